/**
 * Batches made in TypeScript for sources that are not a kernel ring (a replayed file),
 * in the layout native/common/batch.h defines, so lib/batch.ts reads them unchanged.
 */
import type { Owners } from './attribution/types';
import { Batch, type Direction } from './batch';
import { BATCH_LINK, BATCH_RECORD } from './layout';
import type { RecordedProcess } from './pcapng/process-options';

export interface BatchEntry {
  /** The captured bytes (copied into the batch). */
  data: Buffer;
  wireLength: number;
  interfaceIndex: number;
  /** The time as the file holds it (see OnRecord): either may need more than 32 bits. */
  seconds: number;
  nanoseconds: number;
  direction: Direction;
  /** pcap LINKTYPE_* of `data`. */
  linkType: number;
  /** The packet's process, where the file recorded one. */
  owner?: RecordedProcess | null;
}

/** Owners a file recorded, one per packet (null where it recorded none). */
class FileOwners implements Owners {
  constructor(readonly owners: readonly (RecordedProcess | null | undefined)[]) {}
  processAt(i: number) {
    return this.owners[i]?.process ?? null;
  }
  peerAt(i: number) {
    return this.owners[i]?.peerProcess ?? null;
  }
  attributionAt(i: number) {
    return this.owners[i]?.attribution ?? 'none';
  }
}

/** One batch holding `entries`, in order. */
export function buildBatch(entries: readonly BatchEntry[]): Batch {
  const metaBytes = entries.length * BATCH_RECORD.WORDS * 4;
  let dataBytes = 0;
  for (const e of entries) dataBytes += e.data.length;
  const buffer = new ArrayBuffer(metaBytes + dataBytes);
  const meta = new Uint32Array(buffer, 0, entries.length * BATCH_RECORD.WORDS);
  const bytes = new Uint8Array(buffer);
  let offset = metaBytes;
  let wireBytes = 0;
  const wide = new Map<number, [number, number]>();
  entries.forEach((e, i) => {
    const m = i * BATCH_RECORD.WORDS;
    meta[m + BATCH_RECORD.OFFSET] = offset;
    meta[m + BATCH_RECORD.CAPLEN] = e.data.length;
    meta[m + BATCH_RECORD.WIRELEN] = e.wireLength;
    meta[m + BATCH_RECORD.IFINDEX] = e.interfaceIndex;
    meta[m + BATCH_RECORD.TS_SEC] = e.seconds;
    meta[m + BATCH_RECORD.TS_NSEC] = e.nanoseconds;
    if (e.seconds > 0xffffffff || e.nanoseconds > 0xffffffff) wide.set(i, [e.seconds, e.nanoseconds]);
    // No hardware type (0): the link type word says what the bytes are.
    meta[m + BATCH_RECORD.LINK] = e.direction === 'out' ? 1 << BATCH_LINK.DIRECTION_SHIFT : 0;
    meta[m + BATCH_RECORD.LINKTYPE] = e.linkType + 1;
    bytes.set(e.data, offset);
    offset += e.data.length;
    wireBytes += e.wireLength;
  });
  const owned = entries.some((e) => e.owner);
  const owners = owned ? new FileOwners(entries.map((e) => e.owner)) : undefined;
  return Batch.of(buffer, entries.length, wireBytes, owners, wide.size > 0 ? wide : undefined);
}
