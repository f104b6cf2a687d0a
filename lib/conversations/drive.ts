/**
 * Runs a source's packets (and its TLS plaintext, where it has a TLS plugin) through a
 * StreamTable and hands what the table's handler produces to an async iterator. The
 * source is read only as fast as the iterator's consumer takes results: past
 * `HIGH_WATER` waiting results the reading loops pause, so the capture's own queue
 * (and its kernel ring) absorbs a slow consumer, and counts what it cannot.
 */
import type { Batch } from '../batch';
import type { TlsEvent } from '../plugins/tls';
import { batchesOf, tlsEventsOf, type PacketSource } from './source';
import type { StreamTable } from './streams';

/** A packet source, or `{ tls }` for TLS plaintext alone (a TlsPlugin). */
export type ConversationSource = PacketSource | { tls: AsyncIterable<TlsEvent> };

export interface DriveOptions {
  /** Read the source's TLS plaintext (`cap.tls`) too. Default true. */
  tls?: boolean;
}

const HIGH_WATER = 1024;
const TLS_IDLE_MS = 60_000;

function packetsOf(source: ConversationSource): AsyncIterable<Batch> | null {
  return Symbol.asyncIterator in source || 'capturer' in source ? batchesOf(source as PacketSource) : null;
}

export async function* drive<T>(source: ConversationSource, options: DriveOptions, table: StreamTable, out: T[]): AsyncGenerator<T> {
  // Who waits: the iterator for results, the loops for room.
  const waiting: { wake: (() => void) | null; room: (() => void) | null } = { wake: null, room: null };
  let failure: unknown = null;
  let running = 0;
  // The consumer left: the loops stop reading.
  let stopped = false;
  const notify = (): void => {
    waiting.wake?.();
    waiting.wake = null;
  };
  const pause = async (): Promise<void> => {
    while (out.length >= HIGH_WATER && !stopped) await new Promise<void>((r) => (waiting.room = r));
  };
  const loop = async <U>(items: AsyncIterable<U>, each: (item: U) => void): Promise<void> => {
    running++;
    try {
      for await (const item of items) {
        if (stopped) break;
        each(item);
        notify();
        await pause();
      }
    } catch (err) {
      failure ??= err;
    } finally {
      running--;
      notify();
    }
  };
  const batches = packetsOf(source);
  const tls = options.tls === false ? null : 'tls' in source && !batches ? source.tls : tlsEventsOf(source as PacketSource);
  const loops: Promise<void>[] = [];
  if (batches) {
    loops.push(
      loop(batches, (batch) => {
        // Streams keep payload past the batch (held out of order, in parsers): a lent
        // batch (zeroCopy) is copied first.
        table.flows.addBatch(batch.copy());
        table.expireTls(table.flows.now, TLS_IDLE_MS);
      }),
    );
  }
  if (tls) loops.push(loop(tls, (ev) => table.tls(ev)));
  try {
    for (;;) {
      while (out.length > 0) {
        yield out.shift()!;
        if (out.length < HIGH_WATER) {
          waiting.room?.();
          waiting.room = null;
        }
      }
      if (running === 0) break;
      await new Promise<void>((r) => (waiting.wake = r));
    }
    await Promise.all(loops);
    if (failure) throw failure;
    table.flush();
    while (out.length > 0) yield out.shift()!;
  } finally {
    stopped = true;
    waiting.room?.();
  }
}
