/**
 * A batch is what one kernel block held: a fixed-size record per packet (layout:
 * native/common/batch.h) and the packets' bytes. By default both are copied into one
 * ArrayBuffer that is never reused, so packets and their data stay valid as long as they
 * are referenced. A zero-copy batch (`zeroCopy`) is the kernel's block itself, lent
 * until the consumer takes the next batch or calls release(): reading it after that is
 * ERR_RELEASED, and copy() keeps one.
 *
 * Two ways to read one: iterate it for Packet objects, or use the indexed accessors
 * (`lengthAt(i)`, `offsetAt(i)` into `batch.data`, ...) which allocate nothing per
 * packet, for consumers that touch millions of packets a second.
 */

import { Buffer } from 'node:buffer';
import type { Attribution, Owners, PacketProcess } from './attribution/types';
import { ReleasedError } from './errors';
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
  /** The batch's memory the headers were read from (a lent batch moves when kept). */
  #headersFrom: Buffer | undefined;

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
    const data = this.#batch.data;
    if (this.#headers === undefined || this.#headersFrom !== data) {
      this.#headers = this.#batch.headersAt(this.#i);
      this.#headersFrom = data;
    }
    return this.#headers;
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

/** @internal A zero-copy batch's hold on its kernel block (lib/backends/raw-socket). */
export interface Lease {
  /** Bytes of kernel memory held. */
  readonly size: number;
  /** Gives the block back to the kernel. */
  release(): void;
}

export class Batch implements Iterable<Packet> {
  /** Number of packets. */
  readonly length: number;
  /** Sum of the packets' wire lengths. */
  readonly bytes: number;
  #data: Buffer;
  #meta: Uint32Array;
  #buffer: ArrayBuffer;
  readonly #owners: Owners | undefined;
  readonly #wide: WideTimes | undefined;
  #lease: Lease | undefined;
  #released = false;

  /** @internal Records in `meta` (a fixed-size one per packet), pointing into `data`; `lease` when lent from a kernel ring. */
  constructor(meta: Uint32Array, data: Buffer, count: number, bytes: number, owners?: Owners, wide?: WideTimes, lease?: Lease) {
    this.#meta = meta;
    this.#data = data;
    this.#buffer = data.buffer as ArrayBuffer;
    this.#owners = owners;
    this.#wide = wide;
    this.#lease = lease;
    this.length = count;
    this.bytes = bytes;
  }

  /** @internal A batch that owns `buffer`: `count` records, then the packets' bytes. */
  static of(buffer: ArrayBuffer, count: number, bytes: number, owners?: Owners, wide?: WideTimes): Batch {
    return new Batch(new Uint32Array(buffer, 0, count * META_WORDS), Buffer.from(buffer), count, bytes, owners, wide);
  }

  /** Every packet's bytes; packet i's start at `offsetAt(i)` (for a zero-copy batch, the whole ring). */
  get data(): Buffer {
    this.#readable();
    return this.#data;
  }

  /** Memory the batch holds, bytes (none once released). */
  get byteLength(): number {
    if (this.#released) return 0;
    return this.#lease ? this.#lease.size : this.#data.byteLength;
  }

  /** Whether the batch is lent from the kernel's ring (`zeroCopy`) and not yet released. */
  get lent(): boolean {
    return this.#lease !== undefined;
  }

  /**
   * A zero-copy batch: gives its memory back to the kernel now, before the next batch is
   * taken; reading it after this is ERR_RELEASED. Any other batch: nothing to do.
   */
  release(): void {
    const lease = this.#lease;
    if (!lease) return;
    this.#lease = undefined;
    this.#released = true;
    lease.release();
  }

  /**
   * A batch with the same packets in memory of its own, valid for as long as it is
   * referenced: what to keep from a zero-copy batch. Any other batch is its own copy.
   */
  copy(): Batch {
    this.#readable();
    if (!this.#lease) return this;
    const { meta, data } = this.#compact();
    return new Batch(meta, data, this.length, this.bytes, this.#owners, this.#wide);
  }

  /**
   * @internal The batch is still lent where nobody may give it back soon (the capture
   * closes, or it waits with no loop reading): it moves into memory of its own, in place.
   */
  keep(): void {
    if (!this.#lease) return;
    const { meta, data } = this.#compact();
    this.#meta = meta;
    this.#data = data;
    this.#buffer = data.buffer as ArrayBuffer;
    this.release();
    this.#released = false;
  }

  #compact(): { meta: Uint32Array; data: Buffer } {
    const words = this.length * META_WORDS;
    let size = words * 4;
    for (let i = 0; i < this.length; i++) size += this.#meta[i * META_WORDS + CAPLEN]!;
    const buffer = new ArrayBuffer(size);
    const meta = new Uint32Array(buffer, 0, words);
    meta.set(this.#meta.subarray(0, words));
    const data = Buffer.from(buffer);
    for (let i = 0, at = words * 4; i < this.length; i++) {
      const from = meta[i * META_WORDS + OFFSET]!;
      const length = meta[i * META_WORDS + CAPLEN]!;
      this.#data.copy(data, at, from, from + length);
      meta[i * META_WORDS + OFFSET] = at;
      at += length;
    }
    return { meta, data };
  }

  /** Word `word` of packet i's record; a released batch throws. */
  #word(i: number, word: number): number {
    this.#readable();
    return this.#meta[i * META_WORDS + word]!;
  }

  #readable(): void {
    if (this.#released) throw new ReleasedError();
  }

  at(index: number): Packet | undefined {
    this.#readable();
    const i = index < 0 ? this.length + index : index;
    return i >= 0 && i < this.length ? new Packet(this, i) : undefined;
  }

  [Symbol.iterator](): Iterator<Packet> {
    this.#readable();
    return new PacketIterator(this);
  }

  lengthAt(i: number): number {
    return this.#word(i, WIRELEN);
  }

  capturedLengthAt(i: number): number {
    return this.#word(i, CAPLEN);
  }

  offsetAt(i: number): number {
    return this.#word(i, OFFSET);
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
    return this.#inside(i, offset, 1) ? this.#data[this.offsetAt(i) + offset]! : -1;
  }

  /** Packet i's big-endian 16-bit integer at `offset` (as `byteAt`, -1 outside). */
  u16At(i: number, offset: number): number {
    if (!this.#inside(i, offset, 2)) return -1;
    const d = this.#data;
    const o = this.offsetAt(i) + offset;
    return (d[o]! << 8) | d[o + 1]!;
  }

  /** Packet i's big-endian unsigned 32-bit integer at `offset` (as `byteAt`, -1 outside). */
  u32At(i: number, offset: number): number {
    if (!this.#inside(i, offset, 4)) return -1;
    const d = this.#data;
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
    this.#readable();
    return this.#owners ? this.#owners.processAt(i) : null;
  }

  /** Packet i's other local end (see `Packet.peerProcess`). */
  peerProcessAt(i: number): PacketProcess | null {
    this.#readable();
    return this.#owners ? this.#owners.peerAt(i) : null;
  }

  /** How packet i's process was found (see `Packet.attribution`). */
  attributionAt(i: number): Attribution | null {
    this.#readable();
    return this.#owners ? this.#owners.attributionAt(i) : null;
  }

  interfaceIndexAt(i: number): number {
    return this.#word(i, IFINDEX);
  }

  directionAt(i: number): Direction {
    return this.#word(i, LINK) >>> DIRECTION_SHIFT ? 'out' : 'in';
  }

  linkTypeAt(i: number): number | null {
    // Sources that know the pcap link type itself (a replayed file) store it + 1.
    const stored = this.#word(i, LINKTYPE);
    if (stored !== 0) return stored - 1;
    return linkOf(this.#word(i, LINK) & HARDWARE_MASK)?.linkType ?? null;
  }

  /** Capture time of packet i, ms since the epoch. */
  timestampAt(i: number): number {
    return this.secondsAt(i) * 1e3 + this.nanosecondsAt(i) / 1e6;
  }

  /** Whole seconds of packet i's capture time (with `nanosecondsAt`: the exact time, no allocation). */
  secondsAt(i: number): number {
    return this.#wide?.get(i)?.[0] ?? this.#word(i, TS_SEC);
  }

  /**
   * Nanoseconds past `secondsAt(i)`: below 10⁹, except in a replayed classic pcap file
   * whose record says a second or more (tcpdump shows such a fraction as it is, and a
   * file written from the replay keeps it).
   */
  nanosecondsAt(i: number): number {
    return this.#wide?.get(i)?.[1] ?? this.#word(i, TS_NSEC);
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
