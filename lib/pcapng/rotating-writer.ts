/**
 * Capture files that turn over, as tcpdump's -C, -G and -W make them: a new file once
 * the current one is larger than `maxBytes`, at each multiple of `interval` seconds of
 * wall-clock time, and at most `maxFiles` of them. Files turn over between packets, so
 * every packet is in exactly one file. A file is written as NAME.partN and renamed to
 * NAME once complete, when `'file'` names it: a file by its final name is always whole.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import type { Batch } from '../batch';
import { ClosedError, InvalidOptionError } from '../errors';
import * as f from './format';
import { PcapngWriter } from './pcapng-writer';
import { PcapWriter } from './pcap-writer';
import { hasTimeConversion, strftime } from './strftime';
import type { UpperPdu } from './upper-pdu';
import type { CaptureFileWriter, DropCounts, InterfaceSource, Select } from './writer';

export interface RotatingWriterOptions {
  /**
   * The file name. With `interval`, strftime(3) conversions (`%Y%m%d-%H%M%S`) take the
   * start of each file's interval; with `maxBytes`, files after the first get a number
   * after the name (`x`, `x1`, `x2`...; with `maxFiles`, `x0`, `x1`... padded to its width).
   */
  path: string;
  format?: 'pcapng' | 'pcap';
  /** Start a new file before writing a packet when the current one is larger (tcpdump -C). */
  maxBytes?: number;
  /** Start a new file at each multiple of this many seconds since the epoch (tcpdump -G). */
  interval?: number;
  /**
   * With `maxBytes`: keep this many files, overwriting the oldest (a ring). With
   * `interval` alone: write this many, then emit `'limit'` and write no more.
   */
  maxFiles?: number;
  /** pcapng: the capture filter, in each interface's description. */
  filter?: string;
  /** pcapng: names the interfaces (a Capturer). */
  source?: InterfaceSource;
  /** pcap: the snapshot length in each header. */
  snaplen?: number;
  /** The capture's drops so far (`() => cap.stats().drops`): each pcapng file records its own. */
  drops?: () => DropCounts;
}

interface Current {
  writer: CaptureFileWriter;
  path: string;
  /** Where it is written until it is complete. */
  partial: string;
  /** pcapng only: the capture's drops when the file was opened. */
  drops: DropCounts | undefined;
  /** The end of its interval, s since the epoch (with `interval`). */
  until: number;
}

/** Secrets repeated in each new file at most (a TLS 1.3 connection has five). */
const MAX_REPEATED_SECRETS = 50_000;

const NO_DROPS: DropCounts = { kernel: 0, ring: 0, userspace: 0 };

function positive(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new InvalidOptionError(`${name} must be a positive integer; got ${JSON.stringify(value)}`);
  }
}

export class RotatingWriter extends EventEmitter implements CaptureFileWriter {
  readonly #options: RotatingWriterOptions;
  readonly #digits: number;
  #current: Current | null = null;
  /** Number of the next file within this interval (size rotation). */
  #count = 0;
  /** Files opened, all intervals. */
  #opened = 0;
  #bytesBefore = 0;
  #limitReached = false;
  /** Settles once every finished file is closed and renamed. */
  #closingFiles: Promise<void> = Promise.resolve();
  #failure: unknown = null;
  #closed: Promise<void> | null = null;
  /** Secrets seen so far (key log lines), written again at the head of each new file. */
  readonly #secrets: string[] = [];

  constructor(options: RotatingWriterOptions) {
    super();
    if (typeof options.path !== 'string' || options.path === '') throw new InvalidOptionError('path must be a file name');
    positive('maxBytes', options.maxBytes);
    positive('interval', options.interval);
    positive('maxFiles', options.maxFiles);
    if (options.interval && !options.maxBytes && !hasTimeConversion(options.path) && options.maxFiles !== 1) {
      throw new InvalidOptionError(
        `with interval, path needs a time conversion such as %Y%m%d-%H%M%S, or each file would overwrite the last; got ${JSON.stringify(options.path)}`,
      );
    }
    strftime(options.path, new Date()); // refuses an unknown conversion now, not at the first packet
    this.#options = options;
    this.#digits = options.maxBytes && options.maxFiles ? String(options.maxFiles - 1).length : 0;
  }

  /** Bytes written to every file so far (a closing file's last block not yet counted). */
  get bytesWritten(): number {
    return this.#bytesBefore + (this.#current?.writer.bytesWritten ?? 0);
  }

  /** The file being written, if any. */
  get path(): string | undefined {
    return this.#current?.path;
  }

  /** True once `maxFiles` interval files are written: packets after that are not kept. */
  get limitReached(): boolean {
    return this.#limitReached;
  }

  write(batch: Batch, select?: Select): boolean {
    if (this.#closed) throw new ClosedError('capture file writer');
    this.#throwFailure();
    if (this.#limitReached) return true;
    const pcap = this.#options.format === 'pcap';
    let ok = true;
    let from = 0;
    let size = this.#sizeNow(pcap);
    const flush = (to: number): void => {
      if (this.#current && to > from) {
        const [start, end] = [from, to];
        ok = this.#current.writer.write(batch, (i) => i >= start && i < end && (!select || select(i))) && ok;
      }
      from = to;
    };
    for (let i = 0; i < batch.length; i++) {
      if (select && !select(i)) continue;
      const seconds = batch.secondsAt(i);
      const turn = this.#turnFor(seconds, size);
      if (turn) {
        flush(i);
        this.#turnOver(seconds, turn);
        if (this.#limitReached) return ok;
        size = this.#sizeNow(pcap);
      }
      const caplen = batch.capturedLengthAt(i);
      size += pcap ? f.PCAP_RECORD_BYTES + caplen : 32 + f.pad4(caplen);
    }
    flush(batch.length);
    return ok;
  }

  /** pcapng only: an upper-layer PDU into the current file (files turn over on packets). */
  writeUpperPdu(pdu: UpperPdu): boolean {
    if (this.#closed) throw new ClosedError('capture file writer');
    this.#throwFailure();
    const seconds = Number(pdu.timestampNs / 1_000_000_000n);
    if (!this.#current) this.#turnOver(seconds, 'time');
    if (this.#limitReached) return true;
    const writer = this.#current!.writer;
    if (!(writer instanceof PcapngWriter)) throw new InvalidOptionError('upper-layer PDUs need the pcapng format');
    return writer.writeUpperPdu(pdu);
  }

  /**
   * pcapng only: TLS secrets (key log lines) into the current file, and into every file
   * after it, ahead of its packets: each file decrypts on its own. The last
   * MAX_REPEATED_SECRETS lines are repeated.
   */
  writeSecrets(keyLog: string): boolean {
    if (this.#closed) throw new ClosedError('capture file writer');
    this.#throwFailure();
    if (this.#options.format === 'pcap') throw new InvalidOptionError('TLS secrets need the pcapng format');
    if (this.#limitReached) return true;
    this.#secrets.push(...keyLog.split('\n').filter(Boolean));
    if (this.#secrets.length > MAX_REPEATED_SECRETS) this.#secrets.splice(0, this.#secrets.length - MAX_REPEATED_SECRETS);
    // A file opened now starts with every secret kept, these among them.
    if (!this.#current) {
      this.#turnOver(Math.floor(Date.now() / 1000), 'time');
      return true;
    }
    return (this.#current.writer as PcapngWriter).writeSecrets(keyLog);
  }

  async drained(): Promise<void> {
    await this.#closingFiles;
    this.#throwFailure();
    await this.#current?.writer.drained();
  }

  /** Finishes the current file (`stats`: the capture's, for its drops) and waits for every file. */
  close(stats?: { drops: DropCounts }): Promise<void> {
    this.#closed ??= (async () => {
      // A capture that wrote nothing still leaves its (empty) file, as tcpdump does.
      if (!this.#current && this.#opened === 0) this.#open(Math.floor(Date.now() / 1000));
      this.#finish(stats?.drops);
      await this.#closingFiles;
      this.#throwFailure();
    })();
    return this.#closed;
  }

  /** The current file's size, counting a pcap header its writer has yet to write. */
  #sizeNow(pcap: boolean): number {
    const written = this.#current?.writer.bytesWritten ?? 0;
    return pcap && written === 0 ? f.PCAP_HEADER_BYTES : written;
  }

  /** Whether packet time `seconds` needs a new file, and why. */
  #turnFor(seconds: number, size: number): 'time' | 'size' | null {
    const current = this.#current;
    if (!current) return this.#opened === 0 ? 'time' : null;
    if (this.#options.interval && seconds >= current.until) return 'time';
    if (this.#options.maxBytes && size > this.#options.maxBytes) return 'size';
    return null;
  }

  #turnOver(seconds: number, why: 'time' | 'size'): void {
    const { interval, maxBytes, maxFiles } = this.#options;
    if (this.#current) {
      this.#finish(undefined);
      if (why === 'time') {
        this.#count = 0;
        if (interval && !maxBytes && maxFiles && this.#opened >= maxFiles) {
          this.#limitReached = true;
          this.emit('limit');
          return;
        }
      } else {
        this.#count = interval || !maxFiles ? this.#count + 1 : (this.#count + 1) % maxFiles;
      }
    }
    this.#open(seconds);
  }

  #open(seconds: number): void {
    const o = this.#options;
    const start = o.interval ? Math.floor(seconds / o.interval) * o.interval : seconds;
    let path = o.interval ? strftime(o.path, new Date(start * 1000)) : o.path;
    if (o.maxBytes && (this.#count > 0 || this.#digits > 0)) path += String(this.#count).padStart(this.#digits, '0');
    // Written under a name of its own and renamed when complete: a file by its final
    // name is always whole, and a ring's next file cannot meet the one it replaces.
    const partial = `${path}.part${this.#opened}`;
    const writer =
      o.format === 'pcap'
        ? new PcapWriter(partial, { snaplen: o.snaplen })
        : new PcapngWriter(partial, { filter: o.filter, source: o.source });
    if (writer instanceof PcapngWriter && this.#secrets.length > 0) writer.writeSecrets(`${this.#secrets.join('\n')}\n`);
    this.#current = { writer, path, partial, drops: o.drops?.(), until: o.interval ? start + o.interval : Infinity };
    this.#opened++;
  }

  /** Closes the current file in the background; `'file'` when it is complete. */
  #finish(finalDrops: DropCounts | undefined): void {
    const current = this.#current;
    if (!current) return;
    this.#current = null;
    const now = finalDrops ?? this.#options.drops?.();
    const since = current.drops ?? NO_DROPS;
    const drops = now && {
      kernel: now.kernel - since.kernel,
      ring: now.ring - since.ring,
      userspace: now.userspace - since.userspace,
    };
    this.#bytesBefore += current.writer.bytesWritten;
    // Finished in the order they were written, so 'file' names them in that order too.
    const closing = current.writer.close(drops ? { drops } : undefined);
    this.#closingFiles = this.#closingFiles
      .then(() => closing)
      .then(() => fs.promises.rename(current.partial, current.path))
      .then(
        () => {
          this.emit('file', current.path);
        },
        (err: unknown) => {
          this.#failure ??= err;
        },
      );
  }

  #throwFailure(): void {
    if (this.#failure) throw this.#failure;
  }
}
