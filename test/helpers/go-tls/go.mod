module tapwire.test/go-tls

go 1.18
