/**
 * What the capture file parsers share: a parser turns whole blocks (or records) into
 * packets one buffer at a time, so a file of any size streams; damage is a FileError
 * naming the byte offset.
 */
import { FileError } from '../errors';
import { MAX_SNAPLEN } from '../snaplen';
import type { RecordedProcess } from './process-options';

/**
 * `seconds` and `nanoseconds` are the time as the file holds it: seconds may pass 2³²
 * (pcapng), and nanoseconds may be a second or more (a classic pcap record's fraction
 * field, kept as libpcap keeps it).
 */
export type OnRecord = (
  interfaceId: number,
  seconds: number,
  nanoseconds: number,
  data: Buffer,
  wireLength: number,
  outbound: boolean,
  /** What the file says of the packet's process (pcapng options), if anything. */
  owner?: RecordedProcess | null,
) => void;

export interface FileInterface {
  linkType: number;
  name: string | undefined;
  /** The drops its last statistics block recorded (pcapng isb_ifdrop). */
  drops: number;
  /** Whether the file (or its section) is in the other byte order from this host's. */
  swapped: boolean;
}

export interface CaptureFileParser {
  readonly format: 'pcap' | 'pcapng';
  /** Every interface described so far, numbered across sections. */
  readonly interfaces: readonly FileInterface[];
  /**
   * Parses the whole blocks at the start of `buf`, which begins at file offset
   * `offset`, calling `onRecord` for each packet; returns the bytes consumed.
   */
  parse(buf: Buffer, offset: number, onRecord: OnRecord): number;
  /** pcapng: the TLS key logs of the Decryption Secrets Blocks read so far. */
  readonly secrets?: readonly string[];
}

/** A reader over one buffer in the file's byte order. */
export class Fields {
  constructor(
    readonly buf: Buffer,
    readonly little: boolean,
  ) {}

  u16(at: number): number {
    return this.little ? this.buf.readUInt16LE(at) : this.buf.readUInt16BE(at);
  }

  u32(at: number): number {
    return this.little ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }

  u64(at: number): bigint {
    return this.little ? this.buf.readBigUInt64LE(at) : this.buf.readBigUInt64BE(at);
  }
}

export function damaged(path: string, offset: number, what: string): FileError {
  return new FileError(`${path} is damaged at byte offset ${offset}: ${what}`, { path, offset });
}

/** A capture file libpcap would not read either (a version or a field it does not support). */
export function unsupported(path: string, offset: number, what: string): FileError {
  return new FileError(`${path} cannot be read (at byte offset ${offset}): ${what}`, { path, offset });
}

/**
 * The most bytes a record of this link type may hold: larger is damage, as libpcap
 * judges it (max_snaplen_for_dlt: D-Bus messages, EBHSCR and USBPcap frames run larger).
 */
export function maxSnaplen(linkType: number): number {
  return LONG_RECORDS.get(linkType) ?? MAX_SNAPLEN;
}

const LONG_RECORDS = new Map([
  [231, 128 * 1024 * 1024], // LINKTYPE_DBUS
  [279, 8 * 1024 * 1024], // LINKTYPE_EBHSCR
  [249, 1024 * 1024], // LINKTYPE_USBPCAP
]);

/** The snapshot length a file gives, as libpcap takes it: none (0) or one past 2³¹ means the link type's maximum. */
export function snapshotLength(linkType: number, snaplen: number): number {
  return snaplen === 0 || snaplen > 0x7fffffff ? maxSnaplen(linkType) : snaplen;
}
