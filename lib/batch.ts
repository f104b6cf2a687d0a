/**
 * A batch is what one kernel block held: one ArrayBuffer with a fixed-size record per
 * packet followed by the packets' bytes (layout: native/common/batch.h). Batches are
 * never reused, so packets and their data stay valid as long as they are referenced.
 *
 * Two ways to read one: iterate it for Packet objects, or use the indexed accessors
 * (`lengthAt(i)`, `offsetAt(i)` into `batch.data`, ...) which allocate nothing per
 * packet, for consumers that touch millions of packets a second.
 */

import { Buffer } from 'node:buffer';
import type { Attribution, Owners, PacketProcess } from './attribution/types';
import { BATCH_LINK, BATCH_RECORD } from './layout';
import { HeaderView } from './headers/view';
import { linkOf } from './link';

const { OFFSET, CAPLEN, WIRELEN, IFINDEX, TS_SEC, TS_NSEC, LINK, LINKTYPE, WORDS: META_WORDS } = BATCH_RECORD;
const { HARDWARE_MASK, DIRECTION_SHIFT } = BATCH_LINK;

export type Direction = 'in' | 'out';

/**
 * @internal Times a capture file holds that a record's two 32-bit words cannot, by
 * packet index: seconds past 2³² (pcapng after 2106), or a fraction field of 2³² ns or
 * more (a classic pcap record's, kept as the file holds it).
 */
export type WideTimes = ReadonlyMap<number, readonly [seconds: number, nanoseconds: number]>;

/** One captured packet: a handle on its batch, so it costs no copy of the data. */
export class Packet {
  readonly #batch: Batch;
  readonly #i: number;
  #headers: HeaderView | undefined;

  /** @internal */
  constructor(batch: Batch, index: number) {
    this.#batch = batch;
    this.#i = index;
  }

  /** Capture time, milliseconds since the epoch (sub-millisecond fraction included). */
  get timestamp(): number {
    return this.#batch.timestampAt(this.#i);
  }

  /** Capture time, nanoseconds since the epoch, exact. */
  get timestampNs(): bigint {
    return this.#batch.timestampNsAt(this.#i);
  }

  get interfaceIndex(): number {
    return this.#batch.interfaceIndexAt(this.#i);
  }

  get direction(): Direction {
    return this.#batch.directionAt(this.#i);
  }

  /** Bytes on the wire. */
  get length(): number {
    return this.#batch.lengthAt(this.#i);
  }

  /** Bytes captured (≤ length: snaplen). */
  get capturedLength(): number {
    return this.#batch.capturedLengthAt(this.#i);
  }

  /** pcap LINKTYPE_* of `data` (1 Ethernet, 101 raw IP), null for an unknown link. */
  get linkType(): number | null {
    return this.#batch.linkTypeAt(this.#i);
  }

  /** The captured bytes, from the link-layer header on: a view, not a copy. */
  get data(): Buffer {
    return this.#batch.dataAt(this.#i);
  }

  /** The captured byte at `offset` (from the link-layer header on); -1 past the captured bytes. */
  byteAt(offset: number): number {
    return this.#batch.byteAt(this.#i, offset);
  }

  /** The big-endian (network order) 16-bit integer at `offset`; -1 past the captured bytes. */
  u16(offset: number): number {
    return this.#batch.u16At(this.#i, offset);
  }

  /** The big-endian (network order) 32-bit unsigned integer at `offset`; -1 past the captured bytes. */
  u32(offset: number): number {
    return this.#batch.u32At(this.#i, offset);
  }

  /**
   * The packet's link, network and transport headers, read in place (made on first read,
   * then kept). In a hot loop, reuse one view with `batch.headersAt(i, view)` instead.
   */
  get headers(): HeaderView {
    return (this.#headers ??= this.#batch.headersAt(this.#i));
  }

  /** The process that owns the packet's socket (`attribution: true`); null when unknown or not asked for. */
  get process(): PacketProcess | null {
    return this.#batch.processAt(this.#i);
  }

  /**
   * On loopback, where both ends are on this host: the other end's process (the sender
   * of what `process` received). Null elsewhere, when unknown, or not asked for.
   */
  get peerProcess(): PacketProcess | null {
    return this.#batch.peerProcessAt(this.#i);
  }

  /** How `process` was found; null when the capture does not attribute packets. */
  get attribution(): Attribution | null {
    return this.#batch.attributionAt(this.#i);
  }

  toJSON(): object {
    const attribution = this.attribution;
    return {
      timestamp: this.timestamp,
      interfaceIndex: this.interfaceIndex,
      direction: this.direction,
      length: this.length,
      capturedLength: this.capturedLength,
      linkType: this.linkType,
      ...(attribution === null ? {} : { attribution, process: this.process, peerProcess: this.peerProcess }),
    };
  }
}

export class Batch implements Iterable<Packet> {
  /** Number of packets. */
  readonly length: number;
  /** Sum of the packets' wire lengths. */
  readonly bytes: number;
  /** Every packet's bytes; packet i's start at `offsetAt(i)`. */
  readonly data: Buffer;
  readonly #meta: Uint32Array;
  readonly #buffer: ArrayBuffer;
  readonly #owners: Owners | undefined;
  readonly #wide: WideTimes | undefined;

  /** @internal */
  constructor(buffer: ArrayBuffer, count: number, bytes: number, owners?: Owners, wide?: WideTimes) {
    this.#buffer = buffer;
    this.#owners = owners;
    this.#wide = wide;
    this.#meta = new Uint32Array(buffer, 0, count * META_WORDS);
    this.length = count;
    this.bytes = bytes;
    this.data = Buffer.from(buffer);
  }

  /** Memory the batch holds, bytes. */
  get byteLength(): number {
    return this.data.byteLength;
  }

  at(index: number): Packet | undefined {
    const i = index < 0 ? this.length + index : index;
    return i >= 0 && i < this.length ? new Packet(this, i) : undefined;
  }

  [Symbol.iterator](): Iterator<Packet> {
    return new PacketIterator(this);
  }

  lengthAt(i: number): number {
    return this.#meta[i * META_WORDS + WIRELEN]!;
  }

  capturedLengthAt(i: number): number {
    return this.#meta[i * META_WORDS + CAPLEN]!;
  }

  offsetAt(i: number): number {
    return this.#meta[i * META_WORDS + OFFSET]!;
  }

  dataAt(i: number): Buffer {
    // Buffer.from makes the view directly; subarray() would find its constructor through
    // Symbol.species first, which cost twice as much.
    return Buffer.from(this.#buffer, this.offsetAt(i), this.capturedLengthAt(i));
  }

  /**
   * Packet i's byte at `offset`, read in the batch's memory (no view made); -1 when
   * `offset` is not an integer inside its captured bytes, as absent headers read.
   */
  byteAt(i: number, offset: number): number {
    return this.#inside(i, offset, 1) ? this.data[this.offsetAt(i) + offset]! : -1;
  }

  /** Packet i's big-endian 16-bit integer at `offset` (as `byteAt`, -1 outside). */
  u16At(i: number, offset: number): number {
    if (!this.#inside(i, offset, 2)) return -1;
    const d = this.data;
    const o = this.offsetAt(i) + offset;
    return (d[o]! << 8) | d[o + 1]!;
  }

  /** Packet i's big-endian unsigned 32-bit integer at `offset` (as `byteAt`, -1 outside). */
  u32At(i: number, offset: number): number {
    if (!this.#inside(i, offset, 4)) return -1;
    const d = this.data;
    const o = this.offsetAt(i) + offset;
    return d[o]! * 0x1000000 + ((d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!);
  }

  /** Whether `size` bytes at `offset` are inside packet i's captured bytes. */
  #inside(i: number, offset: number, size: number): boolean {
    return Number.isInteger(offset) && offset >= 0 && offset + size <= this.capturedLengthAt(i);
  }

  /**
   * Packet i's headers (see HeaderView), read into `view` when given: one view reused
   * for every packet allocates nothing. Absent headers read as -1 or null, never throw.
   */
  headersAt(i: number, view: HeaderView = new HeaderView()): HeaderView {
    return view.read(this.data, this.offsetAt(i), this.capturedLengthAt(i), this.linkTypeAt(i) ?? -1);
  }

  /** Packet i's process (see `Packet.process`). */
  processAt(i: number): PacketProcess | null {
    return this.#owners ? this.#owners.processAt(i) : null;
  }

  /** Packet i's other local end (see `Packet.peerProcess`). */
  peerProcessAt(i: number): PacketProcess | null {
    return this.#owners ? this.#owners.peerAt(i) : null;
  }

  /** How packet i's process was found (see `Packet.attribution`). */
  attributionAt(i: number): Attribution | null {
    return this.#owners ? this.#owners.attributionAt(i) : null;
  }

  interfaceIndexAt(i: number): number {
    return this.#meta[i * META_WORDS + IFINDEX]!;
  }

  directionAt(i: number): Direction {
    return this.#meta[i * META_WORDS + LINK]! >>> DIRECTION_SHIFT ? 'out' : 'in';
  }

  linkTypeAt(i: number): number | null {
    // Sources that know the pcap link type itself (a replayed file) store it + 1.
    const stored = this.#meta[i * META_WORDS + LINKTYPE]!;
    if (stored !== 0) return stored - 1;
    return linkOf(this.#meta[i * META_WORDS + LINK]! & HARDWARE_MASK)?.linkType ?? null;
  }

  /** Capture time of packet i, ms since the epoch. */
  timestampAt(i: number): number {
    return this.secondsAt(i) * 1e3 + this.nanosecondsAt(i) / 1e6;
  }

  /** Whole seconds of packet i's capture time (with `nanosecondsAt`: the exact time, no allocation). */
  secondsAt(i: number): number {
    return this.#wide?.get(i)?.[0] ?? this.#meta[i * META_WORDS + TS_SEC]!;
  }

  /**
   * Nanoseconds past `secondsAt(i)`: below 10⁹, except in a replayed classic pcap file
   * whose record says a second or more (tcpdump shows such a fraction as it is, and a
   * file written from the replay keeps it).
   */
  nanosecondsAt(i: number): number {
    return this.#wide?.get(i)?.[1] ?? this.#meta[i * META_WORDS + TS_NSEC]!;
  }

  timestampNsAt(i: number): bigint {
    return BigInt(this.secondsAt(i)) * 1_000_000_000n + BigInt(this.nanosecondsAt(i));
  }
}

/** `for (const pkt of batch)`: a plain iterator, which V8 inlines where it cannot a generator. */
class PacketIterator implements Iterator<Packet> {
  readonly #batch: Batch;
  #next = 0;

  constructor(batch: Batch) {
    this.#batch = batch;
  }

  next(): IteratorResult<Packet> {
    const i = this.#next;
    if (i >= this.#batch.length) return { value: undefined, done: true };
    this.#next = i + 1;
    return { value: new Packet(this.#batch, i), done: false };
  }

  [Symbol.iterator](): this {
    return this;
  }
}
