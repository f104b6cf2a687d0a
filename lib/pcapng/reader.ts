/**
 * What the capture file parsers share: a parser turns whole blocks (or records) into
 * packets one buffer at a time, so a file of any size streams; damage is a FileError
 * naming the byte offset.
 */
import { FileError } from '../errors';
import type { RecordedProcess } from './process-options';

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
