/**
 * The record layouts the native addon writes and lib/ reads, written once here (the TLS
 * record's in lib/plugins/tls/record.ts). The native build turns these objects into
 * C++ constants (scripts/layout-header.js) and native/layout_checks.cc holds the C and
 * C++ definitions to them with static_assert: a layout changed on one side only does
 * not compile. Each object holds only `NAME: integer` entries, which that script reads.
 */

/** A packet's record in a batch: these u32 word indices (native/common/batch.h, MetaWord). */
export const BATCH_RECORD = {
  /** Byte offset of the packet's data in the batch's buffer. */
  OFFSET: 0,
  /** Bytes captured. */
  CAPLEN: 1,
  /** Bytes on the wire. */
  WIRELEN: 2,
  IFINDEX: 3,
  TS_SEC: 4,
  TS_NSEC: 5,
  /** The ARPHRD hardware type (BATCH_LINK.HARDWARE_MASK) and the direction (BATCH_LINK.DIRECTION_SHIFT). */
  LINK: 6,
  /** pcap LINKTYPE_* + 1 where the source knows it (a replayed file); 0: the hardware type says. */
  LINKTYPE: 7,
  /** Words per record. */
  WORDS: 8,
} as const;

/** BATCH_RECORD.LINK's parts. */
export const BATCH_LINK = {
  HARDWARE_MASK: 0xffff,
  /** Bit of the direction: 0 in, 1 out. */
  DIRECTION_SHIFT: 16,
} as const;

/**
 * A packet's owners in a batch that attributes packets (`struct tapwire_owners`,
 * native/ebpf/bpf/owner.h): the local owner, then the peer's in the same form. Byte
 * offsets, little-endian.
 */
export const OWNER_RECORD = {
  /** u64: the cgroup v2 id. */
  CGROUP_ID: 0,
  /** u32: the process (thread group) id; 0 when only the cgroup is known. */
  TGID: 8,
  /** u32: how the owner was found (OWNER_METHOD). */
  METHOD: 12,
  /** char[COMM_BYTES], NUL-padded. */
  COMM: 16,
  COMM_BYTES: 16,
  /** Where the peer's owner starts: one owner's size. */
  PEER: 32,
  /** Both owners: the bytes a packet's owners take. */
  BYTES: 64,
} as const;

/** OWNER_RECORD.METHOD's values (`enum tapwire_attribution`). */
export const OWNER_METHOD = {
  NONE: 0,
  SOCKET: 1,
  TUPLE: 2,
  CGROUP: 3,
} as const;
