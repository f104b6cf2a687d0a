/** flows(source): flow records as they end (see flow-table.ts). */
import type { Flow } from './flow';
import { FlowTable, type FlowOptions, type FlowStats } from './flow-table';
import { batchesOf, type PacketSource } from './source';

export class FlowRecords implements AsyncIterable<Flow> {
  readonly #source: PacketSource;
  readonly #table: FlowTable;
  readonly #ended: Flow[] = [];

  constructor(source: PacketSource, options: FlowOptions = {}) {
    this.#source = source;
    this.#table = new FlowTable(options, { end: (flow) => this.#ended.push(flow) });
  }

  /** Packets read, records made, flows open, evictions and packets in no flow. */
  get stats(): FlowStats {
    return this.#table.stats;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Flow> {
    const ended = this.#ended;
    for await (const batch of batchesOf(this.#source)) {
      this.#table.addBatch(batch);
      while (ended.length > 0) yield ended.shift()!;
    }
    this.#table.flush();
    while (ended.length > 0) yield ended.shift()!;
  }
}

/**
 * Each flow of `source` (a Capturer, a replayed file's, captureCommand()'s, or any async
 * iterable of batches) once it ends; those still open when the source ends come last
 * with `end: 'end'`. The returned iterable's `stats` counts what was read.
 */
export function flows(source: PacketSource, options?: FlowOptions): FlowRecords {
  return new FlowRecords(source, options);
}
