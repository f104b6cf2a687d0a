/**
 * Numbers from the capture file formats: pcapng (draft-ietf-opsawg-pcapng) and classic
 * pcap (draft-ietf-opsawg-pcap). Everything tapwire writes is little-endian.
 */
import os from 'node:os';

export const SHB = 0x0a0d0d0a;
export const IDB = 0x00000001;
/** The obsolete Packet Block, which libpcap still reads. */
export const PB = 0x00000002;
export const SPB = 0x00000003;
export const ISB = 0x00000005;
export const EPB = 0x00000006;
/** Decryption Secrets Block, and its secrets type for a TLS key log ("TLSK"). */
export const DSB = 0x0000000a;
export const SECRETS_TLS_KEY_LOG = 0x544c534b;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

// Option codes, per block type.
export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
/** A custom option of UTF-8 text, copied when a file is edited: a Private Enterprise Number, then the text. */
export const OPT_CUSTOM_UTF8 = 2988;
export const SHB_OS = 3;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const IF_FILTER = 11;
export const IF_TSOFFSET = 14;
export const EPB_FLAGS = 2;
export const ISB_STARTTIME = 2;
export const ISB_ENDTIME = 3;
export const ISB_IFDROP = 5;

/** epb_flags bits 0-1. */
export const EPB_INBOUND = 1;
export const EPB_OUTBOUND = 2;
/** if_filter's first byte: the filter is a libpcap expression. */
export const FILTER_LIBPCAP = 0;
/** if_tsresol 9: timestamps count nanoseconds. */
export const TSRESOL_NS = 9;

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
/** Alexey Kuznetzov's modified format: microseconds, and records carry ifindex, protocol and packet type. */
export const PCAP_MAGIC_KUZNETZOV = 0xa1b2cd34;
export const PCAP_HEADER_BYTES = 24;
export const PCAP_RECORD_BYTES = 16;
export const PCAP_KUZNETZOV_RECORD_BYTES = 24;
/** Bits of a pcap header's link type field that must be 0 (16-25; 26-31 describe the FCS). */
export const LINKTYPE_RESERVED_BITS = 0x03ff0000;

export const HOST_LITTLE_ENDIAN = os.endianness() === 'LE';

export const LINKTYPE_ETHERNET = 1;
/** Exported PDUs: tagged upper-layer payloads that Wireshark hands to a named dissector. */
export const LINKTYPE_WIRESHARK_UPPER_PDU = 252;
/**
 * Private use: the link of a packet whose hardware type tapwire cannot name; its
 * bytes are kept as captured.
 */
export const LINKTYPE_USER0 = 147;

/** The longest block a reader accepts (Wireshark's own limit), so a damaged length cannot exhaust memory. */
export const MAX_BLOCK_BYTES = 16 * 1024 * 1024;

export function pad4(n: number): number {
  return (n + 3) & ~3;
}

const TWO_32 = 2 ** 32;
/** Below this many seconds, seconds × 1953125 is exact in a double. */
const SECONDS_EXACT = Math.floor(Number.MAX_SAFE_INTEGER / 1953125);

/**
 * A time as pcapng's two 32-bit halves of nanoseconds since the epoch, without a
 * BigInt: seconds × 10⁹ = (seconds × 1953125) × 2⁹, and seconds × 1953125 < 2⁵³.
 */
export function nanosecondHalves(seconds: number, nanoseconds: number): [high: number, low: number] {
  if (seconds >= SECONDS_EXACT) {
    // After about 2116: a BigInt, once a packet.
    const t = BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds);
    return [Number((t >> 32n) & 0xffffffffn), Number(t & 0xffffffffn)];
  }
  const m = seconds * 1953125;
  const mHigh = Math.floor(m / 2 ** 23);
  const low = (m - mHigh * 2 ** 23) * 512 + nanoseconds;
  return [mHigh + Math.floor(low / TWO_32), low % TWO_32];
}

/** One pcapng option: its code, length, and value padded to 4 bytes. */
export function encodeOption(code: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + pad4(value.length));
  out.writeUInt16LE(code, 0);
  out.writeUInt16LE(value.length, 2);
  value.copy(out, 4);
  return out;
}

/** pcapng options, then opt_endofopt. */
export function encodeOptions(options: ReadonlyArray<readonly [code: number, value: Buffer]>): Buffer {
  return Buffer.concat([...options.map(([code, value]) => encodeOption(code, value)), Buffer.alloc(4)]);
}

/** A whole block: type, total length, body (a multiple of 4 bytes), total length again. */
export function encodeBlock(type: number, body: Buffer): Buffer {
  const total = 12 + body.length;
  const out = Buffer.alloc(total);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(total, 4);
  body.copy(out, 8);
  out.writeUInt32LE(total, total - 4);
  return out;
}

export function u64(value: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(value), 0);
  return b;
}

/** A pcapng timestamp option value: high then low 32 bits. */
export function timestampValue(seconds: number, nanoseconds: number): Buffer {
  const [high, low] = nanosecondHalves(seconds, nanoseconds);
  const b = Buffer.alloc(8);
  b.writeUInt32LE(high, 0);
  b.writeUInt32LE(low, 4);
  return b;
}
