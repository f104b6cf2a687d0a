/**
 * The layout of one TLS record as native/tls/ hands it over: `struct tapwire_tls_record`
 * (native/tls/bpf/tls.h), then `chunk_len` bytes of the call's data, padded to ALIGN.
 * Byte offsets, little-endian. native/tls/tls_capture.cc checks every one of them with
 * static_assert, so a change to the struct that this file misses does not compile.
 */
export const TLS_RECORD = {
  /** u64: when the call returned, ns since the epoch (the native side turns the BPF clock into wall time). */
  TIME_NS: 0,
  /** u64: the TLS object's address (an SSL, a gnutls_session_t) in its process. */
  SSL: 8,
  PID: 16,
  TID: 20,
  /** u32: bytes the call moved. */
  TOTAL_LEN: 24,
  /** u32: of this chunk within the call. */
  OFFSET: 28,
  /** u32: bytes of data after the header. */
  CHUNK_LEN: 32,
  /** s32: the socket under the SSL object, or -1. */
  FD: 36,
  /** u8: 0 read, 1 write. */
  DIRECTION: 40,
  /** u8: the call moved more than arrives. */
  TRUNCATED: 41,
  /** u16: index of the attached file the call was in. */
  TARGET: 42,
  /** u8: the connection's address family (2 IPv4, 10 IPv6), 0 when not known. */
  FAMILY: 44,
  /** char[COMM_BYTES], NUL-padded. */
  COMM: 48,
  COMM_BYTES: 16,
  /** u64: the connection's stream id, unique within the capture. */
  STREAM: 64,
  /** u8[16] each, network order; IPv4 in the first 4. */
  LOCAL_ADDR: 72,
  REMOTE_ADDR: 88,
  /** u16 each, host order. */
  LOCAL_PORT: 104,
  REMOTE_PORT: 106,
  /** The header's size: the data starts here. */
  HEADER_BYTES: 112,
  /** Each record (header and data) starts at a multiple of this. */
  ALIGN: 8,
} as const;
