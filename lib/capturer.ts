/**
 * The Capturer: one delivery path from a backend to every way of reading it (batch
 * iterator, packet iterator, events, Readable). Memory is bounded: once `highWaterMark`
 * bytes of batches wait unread, the backend is paused and the kernel's ring takes the
 * burst, counting what it drops (lib/bounded-queue.ts). It knows no plugin: a plugin
 * that openCapturer attaches as a property declares it itself (lib/plugins/tls).
 */
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import type { Backend, HookMode, InterfaceEvent, Plugin, SourceName } from './backend';
import type { Batch, Packet } from './batch';
import { BoundedQueue } from './bounded-queue';
import { ClosedError, PluginUnsupportedError } from './errors';
import type { ProbeReport } from './probe';
import type { Selection } from './selection';
import type { TlsState } from './tls';

export interface CaptureStats {
  /** Packets captured (delivered to this capturer). */
  packets: number;
  /** Their bytes on the wire. */
  bytes: number;
  drops: {
    /** Dropped by the kernel before tapwire could take them (raw-socket: its ring was full). */
    kernel: number;
    /** Did not fit the BPF ring buffer (eBPF backend). */
    ring: number;
    /** Discarded in user space. */
    userspace: number;
  };
  /** Rejected by the filter, where the backend can count it; null where it cannot. */
  filtered: number | null;
  /**
   * eBPF backend: per interface ever hooked, packets delivered and their bytes on the
   * wire, and whether it is hooked now (false once it went away).
   */
  interfaces?: { index: number; name: string | undefined; packets: number; bytes: number; attached: boolean }[];
}

/** How a live capture was set up: the backend chosen and why, the probe, the TLS decision. */
export interface LiveSelection extends Omit<Selection, 'attempts'> {
  /** eBPF backend: 'tcx' links or a 'socket' filter. */
  attach?: HookMode;
  probe: ProbeReport;
  tls: TlsState;
  /** Whether packets name their processes (`attribution: true`), and how. */
  attribution: { active: boolean; reason: string };
  /** Whether batches are the kernel ring's own memory (`zeroCopy: true`), and if not, why. */
  zeroCopy: { active: boolean; reason: string };
}

/** A replayed file: no probe and no selection took place. */
export interface ReplaySelection {
  backend: 'file';
  reasons: string[];
  tls: TlsState;
  /** The file replayed and its format. */
  file: string;
  format: 'pcap' | 'pcapng';
}

export type CaptureSelection = LiveSelection | ReplaySelection;

export interface CapturerEvents {
  batch: [Batch];
  packet: [Packet];
  /** A source stopped by a fault (a damaged file), after its last good batch; only to listeners. */
  error: [Error];
  /** Every-interface live captures: an interface appeared (and is hooked, or why not) or went. */
  interface: [InterfaceEvent];
  close: [];
}

export class Capturer extends EventEmitter<CapturerEvents> implements AsyncIterable<Batch>, AsyncDisposable {
  /** The backend that captures: 'ebpf' or 'raw-socket'; 'file' for a replayed file. */
  readonly backend: SourceName;
  /** What was chosen and why, with the probe report and the TLS decision. */
  readonly selection: CaptureSelection;
  readonly #source: Backend;
  readonly #queue: BoundedQueue<Batch>;
  #packets = 0;
  #bytes = 0;
  #closing: Promise<void> | null = null;
  readonly #plugins: Plugin[] = [];

  /** @internal Use openCapturer(). */
  constructor(source: Backend, selection: CaptureSelection, highWaterMark: number) {
    super();
    this.backend = source.name;
    this.selection = selection;
    this.#source = source;
    // While closing, the backend hands over what it holds: it is not paused then.
    this.#queue = new BoundedQueue<Batch>({
      highWaterMark,
      sizeOf: (batch) => batch.byteLength,
      pause: () => {
        if (!this.#closing) source.pause();
      },
      resume: () => {
        if (!this.#closing) source.resume();
      },
      busy: 'another loop is already reading this capturer',
      // A zero-copy batch goes back to the kernel once the loop takes the next one; one
      // left waiting by a loop that stopped moves into memory of its own, as one that
      // arrives with nobody reading does, so the ring never waits on a reader that may not come.
      done: (batch) => batch.release(),
      unread: (batch) => batch.keep(),
    });
    source.start(
      (batch) => this.#deliver(batch),
      (error) => this.#sourceEnded(error),
      (event) => this.emit('interface', event),
    );
  }

  #sourceEnded(error?: Error): void {
    if (error) {
      this.#queue.fail(error);
      if (this.listenerCount('error')) this.emit('error', error);
    }
    void this.close();
  }

  #deliver(batch: Batch): void {
    this.#packets += batch.length;
    this.#bytes += batch.bytes;
    const batchListeners = this.listenerCount('batch');
    const packetListeners = this.listenerCount('packet');
    // Batches wait for a reader when one is looping, or when nobody listens yet; else a
    // zero-copy batch goes back to the kernel once its listeners have returned (or thrown).
    const queued = this.#queue.reading || !(batchListeners || packetListeners);
    try {
      if (batchListeners) this.emit('batch', batch);
      if (packetListeners) for (const packet of batch) this.emit('packet', packet);
    } finally {
      if (!queued) batch.release();
      else if (this.#queue.reading) this.#queue.push(batch);
      else {
        batch.keep();
        this.#queue.push(batch);
      }
    }
  }

  /**
   * Batches in capture order, one per kernel block; ends when the capturer closes. A
   * loop started after close() takes what was captured and not yet read, then ends: with
   * nothing left (none captured, or all read) it ends at once, so "no packets" can be
   * asserted after the fact. A second loop at the same time is ERR_BUSY.
   */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.#queue.reader();
  }

  /** Packets one at a time, over the same delivery as the batch iterator. */
  async *packets(): AsyncGenerator<Packet, void, undefined> {
    for await (const batch of this) yield* batch;
  }

  /**
   * An object-mode Readable of batches (default) or packets. A stream reads ahead of its
   * consumer, so zero-copy batches reach it as copies (`batch.copy()`).
   */
  readable(unit: 'batches' | 'packets' = 'batches'): Readable {
    const kept = async function* (batches: AsyncIterable<Batch>): AsyncGenerator<Batch, void, undefined> {
      for await (const batch of batches) yield batch.copy();
    };
    const batches = kept(this);
    const packets = async function* (): AsyncGenerator<Packet, void, undefined> {
      for await (const batch of batches) yield* batch;
    };
    return Readable.from(unit === 'packets' ? packets() : batches, { objectMode: true });
  }

  stats(): CaptureStats {
    const s = this.#source.stats();
    return {
      packets: this.#packets,
      bytes: this.#bytes,
      drops: { kernel: s.kernelDrops, ring: s.ringDrops, userspace: s.userspaceDrops },
      filtered: s.filtered,
      ...(s.interfaces ? { interfaces: s.interfaces.map((i) => ({ ...i, name: this.interfaceName(i.index) })) } : {}),
    };
  }

  /**
   * The name of the interface with this index (`packet.interfaceIndex`): this host's
   * interface for a live capture, the file's own for a replay. Undefined if unknown.
   */
  interfaceName(index: number): string | undefined {
    return this.#source.interfaceName(index);
  }

  /**
   * A replayed pcapng file's TLS secrets, from the Decryption Secrets Blocks read so far
   * (all of them once the replay has ended), as NSS key log lines; '' for any other
   * capture (a live one yields its secrets in `cap.tls.secrets`).
   */
  keyLog(): string {
    return this.#source.keyLog?.() ?? '';
  }

  /** What capture files say of interface `index` beside its name: its network namespace, when `netns` was given. */
  interfaceDescription(index: number): string | undefined {
    return this.#source.interfaceDescription?.(index);
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  /**
   * Registers a plugin (such as tlsPlugin()) to run beside this capture and close with
   * it. Plugins run on the eBPF backend only: elsewhere this is ERR_PLUGIN_UNSUPPORTED.
   */
  use(plugin: Plugin): this {
    if (this.#closing) throw new ClosedError();
    const host = this.#source.pluginHost;
    if (!host) {
      throw new PluginUnsupportedError(`the ${this.backend} backend takes no plugins: '${plugin.name}' runs on the eBPF backend only`);
    }
    plugin.register(host);
    this.#plugins.push(plugin);
    return this;
  }

  /**
   * Stops capturing, hands over every packet captured so far (iteration then ends),
   * and frees all kernel state. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await Promise.all(this.#plugins.map((p) => p.close()));
        await this.#source.close();
      } finally {
        this.#queue.end();
        this.emit('close');
      }
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
