/* Shared by the TLS uprobe programs (tls.bpf.c) and the C++ that reads their records. */
#ifndef TAPWIRE_TLS_H
#define TAPWIRE_TLS_H

/* Bytes of one call copied per record, and records per call: calls up to
 * TAPWIRE_TLS_CHUNK * TAPWIRE_TLS_MAX_CHUNKS bytes (256 KiB) arrive whole. */
#define TAPWIRE_TLS_CHUNK 4096
#define TAPWIRE_TLS_SMALL 512
#define TAPWIRE_TLS_MAX_CHUNKS 64

/* Which OpenSSL struct layout the hooked file has (to find the socket fd). */
enum tapwire_tls_flavor {
  TAPWIRE_TLS_UNKNOWN = 0,
  TAPWIRE_TLS_OPENSSL_1_1 = 1,
  TAPWIRE_TLS_OPENSSL_3 = 2,
};

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
  __u8 direction; /* 0 read, 1 write */
  __u8 truncated; /* the call moved more than arrives */
  __u16 target;   /* which attached file the call was in */
  __u8 pad[4];
  char comm[16];
};

#endif
