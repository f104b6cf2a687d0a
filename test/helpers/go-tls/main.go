// A Go TLS peer for the TLS plugin's tests: crypto/tls through net/http, as Go programs
// use it, so nothing of the test's making sits between the plugin and Go's library.
//
//	go-tls client [-wait] [-conns N] URL   GET URL N times, each on a new connection
//	                                       (after a line on stdin with -wait); prints each
//	                                       connection's local port and the body's length
//	go-tls server CERT KEY BYTES [h2]      HTTPS on 127.0.0.1, a random port (printed),
//	                                       answering every request with BYTES bytes;
//	                                       HTTP/1.1 only, or HTTP/2 by ALPN with h2
//	go-tls pipe                            a client and a server over net.Pipe, no socket
//	go-tls load URL small|big SECONDS      bench/tls.js's client: GETs on 8 keep-alive
//	                                       connections, or 1 MiB POSTs on one, for
//	                                       SECONDS; prints {done, bytes, seconds} as JSON
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	switch os.Args[1] {
	case "client":
		client(os.Args[2:])
	case "server":
		server(os.Args[2], os.Args[3], os.Args[4], len(os.Args) > 5 && os.Args[5] == "h2")
	case "pipe":
		pipe()
	case "load":
		seconds, _ := strconv.ParseFloat(os.Args[4], 64)
		load(os.Args[2], os.Args[3] == "big", seconds)
	}
}

func client(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	wait := fs.Bool("wait", false, "wait for a line on stdin first")
	conns := fs.Int("conns", 1, "requests, each on its own connection")
	fs.Parse(args)
	if *wait {
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n')
	}
	for i := 0; i < *conns; i++ {
		var port int
		dialer := &net.Dialer{}
		tr := &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dialer.DialContext(ctx, network, addr)
				if err == nil {
					port = c.LocalAddr().(*net.TCPAddr).Port
				}
				return c, err
			},
		}
		url := fs.Arg(0)
		if *conns > 1 {
			url += "-" + strconv.Itoa(i)
		}
		r, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		tr.CloseIdleConnections()
		fmt.Println(port, len(b))
	}
}

func server(cert, key, size string, h2 bool) {
	n, _ := strconv.Atoi(size)
	body := strings.Repeat("g", n)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println("listening", ln.Addr().(*net.TCPAddr).Port)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", size)
		io.WriteString(w, body)
	})
	srv := &http.Server{Handler: h}
	if !h2 {
		// An empty map, not nil: net/http then offers no HTTP/2.
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	panic(srv.ServeTLS(ln, cert, key))
}

func pipe() {
	cert, err := tls.LoadX509KeyPair(os.Args[2], os.Args[3])
	if err != nil {
		panic(err)
	}
	a, b := net.Pipe()
	srv := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{cert}})
	go func() {
		buf := make([]byte, 100)
		n, _ := srv.Read(buf)
		srv.Write([]byte("pong:" + string(buf[:n])))
		srv.Close()
	}()
	cli := tls.Client(a, &tls.Config{InsecureSkipVerify: true})
	cli.Write([]byte("ping-over-a-pipe"))
	reply, _ := io.ReadAll(cli)
	fmt.Println(string(reply))
}

func load(url string, big bool, seconds float64) {
	workers := 8
	var body []byte
	if big {
		workers = 1
		body = make([]byte, 1<<20)
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: workers,
		MaxConnsPerHost:     workers,
	}
	client := &http.Client{Transport: tr}
	var done, moved int64
	start := time.Now()
	end := start.Add(time.Duration(seconds * float64(time.Second)))
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				var r *http.Response
				var err error
				if big {
					r, err = client.Post(url, "application/octet-stream", bytes.NewReader(body))
				} else {
					r, err = client.Get(url)
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				atomic.AddInt64(&done, 1)
				atomic.AddInt64(&moved, int64(len(body)))
			}
		}()
	}
	wg.Wait()
	fmt.Printf("{\"done\": %d, \"bytes\": %d, \"seconds\": %f}\n", done, moved, time.Since(start).Seconds())
}
