/**
 * The raw-socket backend: one AF_PACKET socket with a TPACKET_V3 ring per named
 * interface (or one for all), the pcap filter attached as classic BPF. Needs only
 * CAP_NET_RAW; the kernel mechanics live in native/raw_socket/.
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Batch, type Lease } from '../../batch';
import type { Backend, BackendStats, BatchSink, EndCallback, InterfaceCallback } from '../../backend';
import { BadFilterError, fromNative, InterfaceGoneError, type NativeError } from '../../errors';
import { ANY_INTERFACE_DLTS, classicRefusal, dltsOf, FilterPrograms, quoteFilter, unfilterable, withoutLoopbackSends } from '../../filter';
import {
  followInterfaces,
  hostInterfaces,
  interfaceAt,
  InterfaceNames,
  resolveInterface,
  watchInterfaces,
  type Interface,
} from '../../interfaces';
import { NetworkNamespace, within } from '../../netns';
import { echoesSends, linkOf } from '../../link';
import { native, type PacketRing } from '../../native';
import { BATCH_RECORD } from '../../layout';
import type { ResolvedOptions } from '../../options';

const { EINVAL } = os.constants.errno;
const META_WORDS = BATCH_RECORD.WORDS;
const META_BYTES = META_WORDS * 4;
const MAX_BLOCK = 1024 * 1024;
const MIN_BLOCK = 16 * 1024;
/** How long close() waits at most for the kernel to retire the block it fills. */
const RETIRE_WAIT_MS = 2000;

/** Eight blocks or more, each a power of two between 16 KiB and 1 MiB. */
function geometry(bufferSize: number): { blockSize: number; blockCount: number } {
  let blockSize = MAX_BLOCK;
  while (blockSize > MIN_BLOCK && blockSize * 8 > bufferSize) blockSize /= 2;
  return { blockSize, blockCount: Math.max(2, Math.floor(bufferSize / blockSize)) };
}

interface Target {
  name: string;
  ifindex: number;
  filter: Buffer;
}

function targets(options: ResolvedOptions, named: readonly Interface[], programs: FilterPrograms): Target[] {
  if (options.interfaces === null) return [{ name: 'any', ifindex: 0, filter: withoutLoopbackSends(programs.forAnyInterface(), 'any') }];
  return named.map((i) => {
    const program = programs.forInterface(i.hardwareType);
    return { name: i.name, ifindex: i.index, filter: echoesSends(i.hardwareType) ? withoutLoopbackSends(program, 'loopback') : program };
  });
}

/**
 * One ring's blocks as zero-copy batches: the ring and the records native code writes
 * per block, viewed once; the batches still lent, so a close can keep them.
 */
class LentRing {
  readonly #ring: PacketRing;
  readonly #data: Buffer;
  readonly #records: Uint32Array[];
  readonly #blockSize: number;
  readonly #lent = new Map<number, Batch>();

  constructor(ring: PacketRing, blockSize: number, blockCount: number) {
    this.#ring = ring;
    this.#blockSize = blockSize;
    const [memory, records, perBlock] = ring.views();
    this.#data = Buffer.from(memory);
    this.#records = Array.from(
      { length: blockCount },
      (_, b) => new Uint32Array(records, b * perBlock * META_BYTES, perBlock * META_WORDS),
    );
  }

  batch(block: number, count: number, bytes: number): Batch {
    const lease: Lease = {
      size: this.#blockSize,
      release: () => {
        this.#lent.delete(block);
        this.#ring.release(block);
      },
    };
    // Only this batch's records: past them lie an earlier batch's, which at(i) must not find.
    const records = this.#records[block]!.subarray(0, count * META_WORDS);
    const batch = new Batch(records, this.#data, count, bytes, undefined, undefined, lease);
    this.#lent.set(block, batch);
    return batch;
  }

  /** Before the ring closes: what is still lent moves into memory of its own. */
  keep(): void {
    for (const batch of [...this.#lent.values()]) batch.keep();
  }
}

class RawSocketBackend implements Backend {
  readonly name = 'raw-socket' as const;
  readonly lends: boolean;
  readonly #rings: PacketRing[] = [];
  readonly #lentRings: LentRing[] = [];
  readonly #batchTimeout: number;
  /** The interfaces named: a capture on them ends if one goes away. */
  readonly #named: Interface[];
  readonly #ns: NetworkNamespace | undefined;
  readonly #names: InterfaceNames;
  readonly #filter: string;
  /** Every-interface captures: the interfaces there were at open. */
  readonly #known: number[] | undefined;
  #sink: BatchSink | undefined;
  /** Packets still in a block the kernel had not retired when the wait at close ended. */
  #unretired = 0;
  #stopWatching: (() => void) | undefined;

  constructor(
    options: ResolvedOptions,
    named: Interface[],
    known: number[] | undefined,
    programs: FilterPrograms,
    ns: NetworkNamespace | undefined,
  ) {
    this.#named = named;
    this.#known = known;
    this.#filter = options.filter;
    this.#ns = ns;
    this.#names = new InterfaceNames(ns);
    this.#batchTimeout = options.batchTimeout;
    const { blockSize, blockCount } = geometry(options.bufferSize);
    this.lends = options.zeroCopy;
    const onBatch = (buffer: ArrayBuffer, count: number, bytes: number): void => {
      this.#sink?.(Batch.of(buffer, count, bytes));
    };
    try {
      for (const t of targets(options, named, programs)) {
        const refusal = classicRefusal(options.filter, t.filter);
        if (refusal) throw refusal;
        // A lent block's batch needs the ring's views, which exist once the ring is open.
        let lent: LentRing | undefined;
        const onLent = (block: number, count: number, bytes: number): void => {
          this.#sink?.(lent!.batch(block, count, bytes));
        };
        const open = (): PacketRing =>
          new (native().PacketRing)(
            {
              ifindex: t.ifindex,
              filter: t.filter,
              blockSize,
              blockCount,
              blockTimeoutMs: options.batchTimeout,
              snaplen: options.snaplen,
              promiscuous: options.promiscuous,
              zeroCopy: options.zeroCopy,
            },
            options.zeroCopy ? onLent : onBatch,
          );
        try {
          // A packet socket captures in the namespace it was made in, for its whole life.
          const ring = within(ns, open);
          this.#rings.push(ring);
          if (options.zeroCopy) this.#lentRings.push((lent = new LentRing(ring, blockSize, blockCount)));
        } catch (err) {
          const e = err as NativeError;
          if (e.nativeCode === 'EFILTER' && e.errno === EINVAL) {
            throw new BadFilterError(`the kernel refused the compiled filter ${quoteFilter(options.filter)} (EINVAL)`, 'kernel');
          }
          throw fromNative(err, `cannot capture on ${t.name}`, 'CAP_NET_RAW');
        }
      }
    } catch (err) {
      for (const ring of this.#rings) ring.close();
      throw err;
    }
  }

  start(sink: BatchSink, end: EndCallback, onInterface?: InterfaceCallback): void {
    this.#sink = sink;
    if (this.#named.length > 0) {
      this.#stopWatching = watchInterfaces(this.#named, (i) => end(new InterfaceGoneError(i.name)), this.#ns);
    } else if (this.#known && onInterface) {
      // The one every-interface socket sees a new interface by itself: this only says so.
      this.#stopWatching = followInterfaces(
        this.#known,
        (change, index) => {
          const name = this.#names.nameOf(index);
          if (change === 'removed') return onInterface({ change, name, index, attached: false });
          const hardwareType = interfaceAt(index, this.#ns)?.hardwareType;
          if (hardwareType === undefined) return; // gone again; its removal follows
          const dlt = linkOf(hardwareType)?.dlt;
          if (this.#filter === '' || (dlt !== undefined && ANY_INTERFACE_DLTS.includes(dlt)))
            return onInterface({ change, name, index, attached: true });
          onInterface({
            change,
            name,
            index,
            attached: false,
            reason: unfilterable(hardwareType),
          });
        },
        this.#ns,
      );
    }
    this.resume();
  }

  interfaceName(index: number): string | undefined {
    return this.#names.nameOf(index);
  }

  interfaceDescription(): string | undefined {
    return this.#ns?.describe();
  }

  pause(): void {
    for (const ring of this.#rings) ring.pause();
  }

  resume(): void {
    for (const ring of this.#rings) ring.resume();
  }

  async close(): Promise<void> {
    this.#stopWatching?.();
    for (const ring of this.#rings) ring.detach();
    // The kernel's block timer retires a partly filled block within two block timeouts,
    // or later on a busy machine (an emulated guest missed it by more than 10 ms): its
    // packets are waited for, and what a timer never retires is counted, not lost.
    const deadline = Date.now() + RETIRE_WAIT_MS;
    await sleep(2 * this.#batchTimeout + 5);
    while (this.#rings.some((r) => r.unretired() > 0) && Date.now() < deadline) await sleep(this.#batchTimeout);
    for (const ring of this.#rings) this.#unretired += ring.unretired();
    for (const ring of this.#rings) ring.flush();
    // Batches still lent (queued unread, or held) stay valid: they become copies.
    for (const lent of this.#lentRings) lent.keep();
    for (const ring of this.#rings) ring.close();
    this.#ns?.close();
  }

  stats(): BackendStats {
    let kernelDrops = 0;
    let userspaceDrops = this.#unretired;
    for (const ring of this.#rings) {
      const s = ring.stats();
      kernelDrops += s.kernelDrops;
      userspaceDrops += s.userspaceDrops;
    }
    return { kernelDrops, ringDrops: 0, userspaceDrops, filtered: null };
  }
}

export async function openRawSocket(options: ResolvedOptions): Promise<Backend> {
  const ns = NetworkNamespace.openOption(options.netns);
  try {
    const named = (options.interfaces ?? []).map((name) => resolveInterface(name, ns));
    const known = options.interfaces === null ? hostInterfaces(ns).map((i) => i.index) : undefined;
    const dlts = options.interfaces === null ? ANY_INTERFACE_DLTS : dltsOf(named.map((i) => i.hardwareType));
    return new RawSocketBackend(options, named, known, await FilterPrograms.compile(options.filter, options.snaplen, dlts), ns);
  } catch (err) {
    ns?.close();
    throw err;
  }
}
