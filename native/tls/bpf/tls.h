/* Shared by the TLS uprobe programs (tls.bpf.c) and the C++ that reads their records. */
#ifndef TAPWIRE_TLS_H
#define TAPWIRE_TLS_H

/* Bytes of one call copied per record, and records per call: calls up to
 * TAPWIRE_TLS_CHUNK * TAPWIRE_TLS_MAX_CHUNKS bytes (256 KiB) arrive whole. */
#define TAPWIRE_TLS_CHUNK 4096
#define TAPWIRE_TLS_SMALL 512
#define TAPWIRE_TLS_MAX_CHUNKS 64

/* Which library the hooked file is, and for OpenSSL which struct layout finds the
 * socket fd under an SSL object. */
enum tapwire_tls_flavor {
  TAPWIRE_TLS_UNKNOWN = 0, /* OpenSSL's functions, layout unknown: no fd */
  TAPWIRE_TLS_OPENSSL_1_1 = 1,
  TAPWIRE_TLS_OPENSSL_3 = 2,
  TAPWIRE_TLS_GNUTLS = 3, /* the fd comes from gnutls_transport_set_* */
  TAPWIRE_TLS_GO = 4,     /* crypto/tls in a Go binary: Go's register ABI, hooks by offset */
};

#define TAPWIRE_TLS_EXEC 2 /* a record's direction when it reports an exec */
/* A record's direction when it carries a TLS secret: its data is the label, the client
 * random and the secret, each a length byte then that many bytes. A label of length 0
 * could not be read: `ssl` holds its address and `stream` the probe's. */
#define TAPWIRE_TLS_SECRET 3
#define TAPWIRE_TLS_LABEL_MAX 48
#define TAPWIRE_TLS_RANDOM_LEN 32
#define TAPWIRE_TLS_SECRET_MAX 64

enum tapwire_tls_counter {
  TAPWIRE_TLS_LOST_RECORDS = 0, /* did not fit the ring buffer */
  TAPWIRE_TLS_TRUNCATED_BYTES = 1,
  TAPWIRE_TLS_COUNTER_COUNT = 2,
};

/* One record: this header, then chunk_len bytes of the call's data from offset. */
struct tapwire_tls_record {
  __u64 monotonic_ns; /* when the call returned: the same for all chunks of a call */
  __u64 ssl;          /* the SSL object: the connection, within the process */
  __u32 pid;
  __u32 tid;
  __u32 total_len; /* bytes the call moved */
  __u32 offset;    /* of this chunk within the call */
  __u32 chunk_len;
  __s32 fd;       /* the socket under the SSL object, or -1 */
  __u8 direction; /* 0 read, 1 write, 2 the process `pid` exec'd (no data): its libraries are looked for, 3 a secret */
  __u8 truncated; /* the call moved more than arrives */
  __u16 target;   /* which attached file the call was in */
  __u8 family;    /* of the connection below: AF_INET, AF_INET6, or 0 when unknown */
  __u8 pad[3];
  char comm[16];
  __u64 stream; /* the connection, unique within the capture: never reused */
  /* The TCP connection the call's socket had when the call was made, in network order. */
  __u8 local_addr[16];
  __u8 remote_addr[16];
  __u16 local_port;  /* host order */
  __u16 remote_port; /* host order */
  __u8 pad2[4];
};

#endif
