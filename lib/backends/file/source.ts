/**
 * A capture file as a packet source: read (./input.ts), parsed, filtered in
 * user space with the same libpcap programs the kernel runs, and handed over as batches
 * in the layout live backends use. Not a backend selection can choose: `file` bypasses it.
 */
import type { Backend, BackendStats, BatchSink, EndCallback } from '../../backend';
import { buildBatch, type BatchEntry } from '../../batch-builder';
import type { Batch } from '../../batch';
import { FilterPrograms, matchFilter, type FileLink } from '../../filter';
import type { ReplayOptions } from '../../options';
import { parserFor } from '../../pcapng/detect';
import { LINKTYPE_ETHERNET, PCAP_HEADER_BYTES } from '../../pcapng/format';
import { damaged, type CaptureFileParser } from '../../pcapng/reader';
import { openInput, type Input } from './input';
import { asLibpcapHandsOver, rewrittenByLibpcap } from './pseudo-headers';

export class FileSource implements Backend {
  readonly name = 'file' as const;
  readonly path: string;
  readonly #input: Input;
  readonly #parser: CaptureFileParser;
  /** By link type: the compiled filter, or null where it cannot apply (nothing matches). */
  readonly #programs: FilterPrograms;
  /** Bytes read but not yet parsed (a block cut by the chunk's end), and their file offset. */
  #pending: Buffer = Buffer.alloc(0);
  #pendingOffset = 0;
  #records = 0;
  #rejected = 0;
  /** Batches read while opening, delivered first. */
  #ready: Batch[] = [];
  #failure: Error | undefined;
  #paused = false;
  #wake: (() => void) | null = null;
  #closed = false;
  #loop: Promise<void> | null = null;

  private constructor(path: string, input: Input, parser: CaptureFileParser, programs: FilterPrograms) {
    this.path = path;
    this.#input = input;
    this.#parser = parser;
    this.#programs = programs;
  }

  get format(): 'pcap' | 'pcapng' {
    return this.#parser.format;
  }

  /**
   * Opens the file and reads up to its first packet, so that a missing, foreign or
   * damaged-from-the-start file and a filter that applies to none of its links reject here.
   * Aborting `options.signal` meanwhile (a pipe whose writer has not written) rejects
   * with its reason.
   */
  static async open(options: ReplayOptions): Promise<FileSource> {
    const { file: path, signal } = options;
    const input = await openInput(path);
    const onAbort = (): void => void input.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const read = async (): Promise<Buffer | null> => {
        signal?.throwIfAborted();
        const chunk = await input.read();
        signal?.throwIfAborted();
        return chunk;
      };
      let first = Buffer.alloc(0);
      // A pipe may hand over less than a file header at first.
      while (first.length < PCAP_HEADER_BYTES) {
        const more = await read();
        if (more === null) break;
        first = Buffer.concat([first, more]);
      }
      const programs = await FilterPrograms.compile(options.filter, options.snaplen, []);
      const source = new FileSource(path, input, parserFor(first, path), programs);
      await source.#take(first);
      while (source.#records === 0 && !source.#failure) {
        const chunk = await read();
        if (chunk === null) {
          source.#atEnd();
          break;
        }
        await source.#take(chunk);
      }
      if (source.#failure && source.#records === 0) throw source.#failure;
      await source.#checkFilter();
      signal?.throwIfAborted();
      return source;
    } catch (err) {
      await input.close();
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  start(sink: BatchSink, end: EndCallback): void {
    this.#loop = (async () => {
      // Not before the caller of openCapturer() has had its turn to add listeners.
      await new Promise((resolve) => setImmediate(resolve));
      for (const batch of this.#ready.splice(0)) if (!this.#closed) sink(batch);
      while (!this.#closed && !this.#failure) {
        if (this.#paused) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          continue;
        }
        let chunk: Buffer | null;
        try {
          chunk = await this.#input.read();
        } catch (err) {
          this.#failure = err as Error;
          break;
        }
        if (chunk === null) {
          this.#atEnd();
          break;
        }
        const batch = await this.#take(chunk);
        if (batch && !this.#closed) sink(batch);
      }
      if (!this.#closed) end(this.#failure);
    })();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#wakeUp();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wakeUp();
    // A read in flight on a quiet pipe then gives null, and the loop ends.
    await this.#input.close();
  }

  stats(): BackendStats {
    // What the capture that wrote the file lost, as its statistics blocks recorded it.
    const kernelDrops = this.#parser.interfaces.reduce((sum, i) => sum + i.drops, 0);
    return { kernelDrops, ringDrops: 0, userspaceDrops: 0, filtered: this.#rejected };
  }

  interfaceName(index: number): string | undefined {
    return this.#parser.interfaces[index]?.name;
  }

  keyLog(): string {
    return (this.#parser.secrets ?? []).map((text) => (text.endsWith('\n') ? text : `${text}\n`)).join('');
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Parses what `chunk` completes; a batch of the packets that pass the filter, if any. */
  async #take(chunk: Buffer): Promise<Batch | null> {
    const buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const records: BatchEntry[] = [];
    let consumed = 0;
    try {
      consumed = this.#parser.parse(buf, this.#pendingOffset, (interfaceId, seconds, nanoseconds, data, wireLength, outbound, owner) => {
        const { linkType } = this.#parser.interfaces[interfaceId]!;
        records.push({
          data,
          wireLength,
          interfaceIndex: interfaceId,
          seconds,
          nanoseconds,
          direction: outbound ? 'out' : 'in',
          linkType,
          owner,
        });
      });
      const links = this.#parser.interfaces;
      for (const r of records) {
        const link = links[r.interfaceIndex]!;
        if (rewrittenByLibpcap(link)) r.wireLength = asLibpcapHandsOver(this.path, link, r.data, r.wireLength);
      }
    } catch (err) {
      this.#failure = err as Error;
    }
    this.#records += records.length;
    this.#pending = buf.subarray(consumed);
    this.#pendingOffset += consumed;
    const entries = await this.#passing(records);
    if (entries.length === 0) return null;
    const batch = buildBatch(entries);
    if (!this.#loop) this.#ready.push(batch);
    return batch;
  }

  /** The records that pass the filter, cut to the snaplen. */
  async #passing(records: BatchEntry[]): Promise<BatchEntry[]> {
    if (this.#programs.expression === '') {
      for (const r of records) r.data = r.data.subarray(0, this.#programs.snaplen);
      return records;
    }
    const links = this.#parser.interfaces;
    // Links first seen here are compiled for before their packets are filtered.
    await this.#programs.add(records.map((r) => links[r.interfaceIndex]!));
    return records.filter((r) => {
      const link = links[r.interfaceIndex]!;
      // As on a live 'any' capture: a link the expression cannot apply to matches nothing.
      // The program returns the snaplen or 0, and a record of no bytes can pass (libpcap's verdict).
      const kept = this.#programs.compiles(link) ? matchFilter(this.#programs.forLink(link), r.data, r.wireLength) : 0;
      if (kept === 0) this.#rejected++;
      r.data = r.data.subarray(0, kept);
      return kept > 0;
    });
  }

  /** The filter must apply to some link of the file (Ethernet if it describes none yet). */
  async #checkFilter(): Promise<void> {
    const links: FileLink[] =
      this.#parser.interfaces.length > 0 ? [...this.#parser.interfaces] : [{ linkType: LINKTYPE_ETHERNET, swapped: false }];
    await this.#programs.add(links);
    this.#programs.requireAny(links);
  }

  #atEnd(): void {
    if (this.#pending.length > 0 && !this.#failure) {
      this.#failure = damaged(this.path, this.#pendingOffset, `the file ends inside a block (${this.#pending.length} bytes of it)`);
    }
  }
}
