/**
 * A streaming classic pcap writer (nanosecond variant, magic 0xa1b23c4d) for tools
 * that read nothing else. The format holds one link type and no interfaces, direction
 * or statistics: the link type is the first packet's, and a packet of another is an error.
 */
import type { Writable } from 'node:stream';
import type { Batch } from '../batch';
import { ClosedError, FileError } from '../errors';
import { MAX_SNAPLEN } from '../snaplen';
import * as f from './format';
import { Output, type OutputOptions } from './output';
import type { CaptureFileWriter, Select } from './writer';

export interface PcapWriterOptions extends OutputOptions {
  /** Recorded in the header (default 262144). */
  snaplen?: number;
  /** The file's link type if no packet is written (default 1, Ethernet). */
  linkType?: number;
}

export class PcapWriter implements CaptureFileWriter {
  readonly #out: Output;
  readonly #snaplen: number;
  readonly #emptyLinkType: number;
  /** The first packet's, which every other must share. */
  #linkType: number | null = null;
  #headerWritten = false;
  #closing: Promise<void> | null = null;

  constructor(target: string | Writable, options: PcapWriterOptions = {}) {
    this.#out = new Output(target, options);
    this.#snaplen = options.snaplen ?? MAX_SNAPLEN;
    this.#emptyLinkType = options.linkType ?? f.LINKTYPE_ETHERNET;
  }

  get bytesWritten(): number {
    return this.#out.bytes;
  }

  write(batch: Batch, select?: Select): boolean {
    if (this.#closing) throw new ClosedError('capture file writer');
    let size = 0;
    let count = 0;
    for (let i = 0; i < batch.length; i++) {
      if (select && !select(i)) continue;
      const linkType = batch.linkTypeAt(i) ?? f.LINKTYPE_USER0;
      this.#linkType ??= linkType;
      if (linkType !== this.#linkType) {
        throw new FileError(
          `classic pcap holds one link type: this file's is ${this.#linkType}, but interface ` +
            `${batch.interfaceIndexAt(i)} gave a packet of link type ${linkType}; write pcapng instead`,
        );
      }
      if (recordTime(batch.secondsAt(i), batch.nanosecondsAt(i))[0] > 0xffffffff) {
        throw new FileError(`classic pcap holds times up to 2106, and packet ${i} of the batch is later; write pcapng instead`);
      }
      size += f.PCAP_RECORD_BYTES + batch.capturedLengthAt(i);
      count++;
    }
    if (count === 0) return true;
    const header = this.#header();
    const out = Buffer.allocUnsafe((header?.length ?? 0) + size);
    let pos = header ? header.copy(out, 0) : 0;
    for (let i = 0; i < batch.length; i++) {
      if (select && !select(i)) continue;
      const caplen = batch.capturedLengthAt(i);
      const [seconds, nanoseconds] = recordTime(batch.secondsAt(i), batch.nanosecondsAt(i));
      out.writeUInt32LE(seconds, pos);
      out.writeUInt32LE(nanoseconds, pos + 4);
      out.writeUInt32LE(caplen, pos + 8);
      out.writeUInt32LE(batch.lengthAt(i), pos + 12);
      pos += f.PCAP_RECORD_BYTES;
      pos += batch.data.copy(out, pos, batch.offsetAt(i), batch.offsetAt(i) + caplen);
    }
    return this.#out.write(out);
  }

  drained(): Promise<void> {
    return this.#out.drained();
  }

  /** Finishes the file; classic pcap has no place for statistics. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#linkType ??= this.#emptyLinkType;
      await this.#out.finish(this.#header() ?? Buffer.alloc(0));
    })();
    return this.#closing;
  }

  /** The file header, the first time it is asked for. */
  #header(): Buffer | null {
    if (this.#headerWritten) return null;
    this.#headerWritten = true;
    const h = Buffer.alloc(f.PCAP_HEADER_BYTES);
    h.writeUInt32LE(f.PCAP_MAGIC_NS, 0);
    h.writeUInt16LE(2, 4); // version 2.4
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(this.#snaplen, 16);
    h.writeUInt32LE(this.#linkType!, 20);
    return h;
  }
}

/**
 * A record's two time fields. A fraction of a second or more that a replayed file held
 * is written as it was while it fits the 32-bit field, and carried into the seconds past that.
 */
function recordTime(seconds: number, nanoseconds: number): [seconds: number, nanoseconds: number] {
  if (nanoseconds <= 0xffffffff) return [seconds, nanoseconds];
  return [seconds + Math.floor(nanoseconds / 1e9), nanoseconds % 1e9];
}
