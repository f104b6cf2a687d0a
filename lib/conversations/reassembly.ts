/**
 * One direction of a TCP connection put back in order. Data below the next expected
 * sequence number was delivered already: a retransmission or overlap is trimmed, so
 * each byte is delivered once (the first copy seen wins). Data past it waits, bounded,
 * until the hole before it fills; a hole is given up on (reported with its size, and
 * the data after it delivered) when the other end acknowledges past it (the receiver
 * had bytes the capture missed), when this direction's waiting data passes its limit,
 * or when the connection ends.
 */

export interface ReassemblySink {
  data(bytes: Uint8Array, time: number): void;
  /** `size` bytes will never come: the next data follows them. */
  hole(size: number, time: number): void;
  /** The sender's FIN was reached: nothing more comes this way. */
  end(time: number): void;
}

/** Waiting bytes over every direction of a table, shared so one budget bounds them all. */
export interface Budget {
  /** Bytes held now, and the most allowed. */
  held: number;
  readonly limit: number;
  /** Segments and bytes dropped for want of room. */
  droppedSegments: number;
  droppedBytes: number;
}

interface Waiting {
  seq: number;
  data: Uint8Array;
}

/** Signed distance from `b` to `a` in sequence space. */
const diff = (a: number, b: number): number => (a - b) | 0;

export class Reassembler {
  readonly #sink: ReassemblySink;
  readonly #budget: Budget;
  readonly #limit: number;
  /** Next sequence number to deliver; -1 before the first SYN or data. */
  #next = -1;
  #fin = -1;
  #ended = false;
  /** Segments past #next, in sequence order, not overlapping one another. */
  #waiting: Waiting[] = [];
  #held = 0;
  /** Bytes delivered, holes and their bytes. */
  bytes = 0;
  holes = 0;
  holeBytes = 0;

  constructor(sink: ReassemblySink, budget: Budget, limit: number) {
    this.#sink = sink;
    this.#budget = budget;
    this.#limit = limit;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** A segment from this direction's sender: its flags' SYN and FIN, sequence number and payload. */
  segment(seq: number, syn: boolean, fin: boolean, payload: Uint8Array, time: number): void {
    if (this.#ended) return;
    if (syn) {
      if (this.#next < 0) this.#next = (seq + 1) >>> 0;
      seq = (seq + 1) >>> 0;
    }
    if (this.#next < 0) this.#next = seq;
    if (fin) this.#fin = (seq + payload.length) >>> 0;
    if (payload.length > 0) this.#add(seq, payload, time);
    this.#finish(time);
  }

  /** The other end acknowledged `ack`: what lies before it was received, whether or not the capture saw it. */
  acknowledged(ack: number, time: number): void {
    if (this.#next < 0 || this.#ended || diff(ack, this.#next) <= 0) return;
    // Deliver what waits up to `ack`, declaring the holes between.
    while (diff(ack, this.#next) > 0) {
      const first = this.#waiting[0];
      if (first && diff(first.seq, ack) < 0) this.#skipTo(first.seq, time);
      else {
        // The FIN takes a sequence number but no byte.
        const target = this.#fin >= 0 && diff(ack, this.#fin) > 0 ? this.#fin : ack;
        if (diff(target, this.#next) > 0) this.#skipTo(target, time);
        break;
      }
      this.#deliverReady(time);
    }
    this.#finish(time);
  }

  /** The connection ended: every waiting segment is delivered, holes declared. */
  flush(time: number): void {
    while (this.#waiting.length > 0) {
      this.#skipTo(this.#waiting[0]!.seq, time);
      this.#deliverReady(time);
    }
    if (!this.#ended) {
      this.#ended = true;
      this.#sink.end(time);
    }
  }

  #add(seq: number, payload: Uint8Array, time: number): void {
    // Trim what was delivered already.
    const behind = diff(this.#next, seq);
    if (behind > 0) {
      if (behind >= payload.length) return;
      payload = payload.subarray(behind);
      seq = this.#next;
    }
    if (seq === this.#next) {
      this.#deliver(payload, time);
      this.#deliverReady(time);
      return;
    }
    this.#wait(seq, payload, time);
  }

  /** Keeps a segment that arrived ahead of a hole, trimmed against those already waiting. */
  #wait(seq: number, payload: Uint8Array, time: number): void {
    const list = this.#waiting;
    let i = 0;
    while (i < list.length && diff(list[i]!.seq, seq) <= 0) i++;
    // Overlap with the one before: keep the first copy.
    const before = list[i - 1];
    if (before) {
      const overlap = diff((before.seq + before.data.length) >>> 0, seq);
      if (overlap >= payload.length) return;
      if (overlap > 0) {
        payload = payload.subarray(overlap);
        seq = (seq + overlap) >>> 0;
      }
    }
    // Overlap with the one after: cut this one short.
    const after = list[i];
    if (after) {
      const room = diff(after.seq, seq);
      if (room <= 0) return;
      if (room < payload.length) payload = payload.subarray(0, room);
    }
    // Over its own limit, give up on the hole; over the shared budget, drop the segment.
    while (this.#held + payload.length > this.#limit && list.length > 0) {
      this.#skipTo(list[0]!.seq, time);
      this.#deliverReady(time);
      if (diff(seq, this.#next) <= 0) return this.#add(seq, payload, time);
    }
    if (this.#budget.held + payload.length > this.#budget.limit || payload.length > this.#limit) {
      this.#budget.droppedSegments++;
      this.#budget.droppedBytes += payload.length;
      return;
    }
    // The batch's memory is not held: a waiting segment is copied.
    list.splice(i, 0, { seq, data: payload.slice() });
    this.#held += payload.length;
    this.#budget.held += payload.length;
  }

  #deliver(data: Uint8Array, time: number): void {
    this.#next = (this.#next + data.length) >>> 0;
    this.bytes += data.length;
    this.#sink.data(data, time);
  }

  /** Delivers waiting segments that now follow on. */
  #deliverReady(time: number): void {
    const list = this.#waiting;
    while (list.length > 0) {
      const first = list[0]!;
      const behind = diff(this.#next, first.seq);
      if (behind < 0) return;
      list.shift();
      this.#held -= first.data.length;
      this.#budget.held -= first.data.length;
      if (behind < first.data.length) this.#deliver(first.data.subarray(behind), time);
    }
  }

  #skipTo(seq: number, time: number): void {
    const size = diff(seq, this.#next);
    if (size <= 0) return;
    this.holes++;
    this.holeBytes += size;
    this.#next = seq;
    this.#sink.hole(size, time);
  }

  #finish(time: number): void {
    if (!this.#ended && this.#fin >= 0 && this.#next === this.#fin && this.#waiting.length === 0) {
      this.#ended = true;
      this.#sink.end(time);
    }
  }

  /** Releases what waits (the flow was dropped). */
  discard(): void {
    this.#budget.held -= this.#held;
    this.#held = 0;
    this.#waiting = [];
  }
}
