/**
 * What stands between a source that pushes and the one loop that reads it: the
 * Capturer's batches and the TLS plugin's events. Memory is bounded in bytes: once more
 * than `highWaterMark` bytes wait unread, the source is paused (its kernel ring takes the
 * burst and counts what it drops), and resumed once the reader has taken it down to half.
 * The queue ends after the items it holds, with or without an error.
 */
import { BusyError } from './errors';

export interface BoundedQueueOptions<T> {
  highWaterMark: number;
  /** The bytes an item holds. */
  sizeOf(item: T): number;
  /** Stops the source: called once the queue holds more than highWaterMark bytes. */
  pause(): void;
  /** Starts it again: called once the reader has taken the queue down to half of that. */
  resume(): void;
  /** What ERR_BUSY says to a second reader. */
  busy: string;
  /** The reader is done with `item`: it asked for the next one, or stopped reading. */
  done?(item: T): void;
  /** The reader stopped with `item` still waiting (it stays queued for a later reader). */
  unread?(item: T): void;
}

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: Error): void;
}

export class BoundedQueue<T> {
  readonly #options: BoundedQueueOptions<T>;
  readonly #items: T[] = [];
  /** Each item's size when it was queued, taken off again when it is read. */
  readonly #sizes: number[] = [];
  #bytes = 0;
  #paused = false;
  #reading = false;
  #waiter: Waiter<T> | null = null;
  /** The item the reader has now: done once it asks for another. */
  #taken: T | undefined;
  #ended = false;
  /** What stopped the source, handed to the reader after the last item. */
  #failure: Error | null = null;

  constructor(options: BoundedQueueOptions<T>) {
    this.#options = options;
  }

  /** Whether a loop is reading. */
  get reading(): boolean {
    return this.#reading;
  }

  /** Ended, and nothing is left to read. */
  get finished(): boolean {
    return this.#ended && this.#items.length === 0;
  }

  /** Bytes of the items waiting to be read. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Hands `item` to a waiting reader, or keeps it (pausing the source above the high-water mark). */
  push(item: T): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = null;
      this.#taken = item;
      waiter.resolve({ value: item, done: false });
      return;
    }
    const size = this.#options.sizeOf(item);
    this.#items.push(item);
    this.#sizes.push(size);
    this.#bytes += size;
    if (!this.#paused && this.#bytes > this.#options.highWaterMark) {
      this.#paused = true;
      this.#options.pause();
    }
  }

  /** The reader sees `error` after the last item, once the queue has ended. */
  fail(error: Error): void {
    this.#failure = error;
  }

  /** No more items: the reader gets what is left, then the end (or the failure). */
  end(): void {
    this.#ended = true;
    const waiter = this.#waiter;
    if (!waiter) return;
    // A reader waits only on an empty queue.
    this.#waiter = null;
    this.#reading = false;
    const failure = this.#takeFailure();
    if (failure) waiter.reject(failure);
    else waiter.resolve({ value: undefined, done: true });
  }

  /** The iterator of the one loop that reads; a second one at a time is ERR_BUSY. */
  reader(): AsyncIterator<T> {
    if (this.#reading) throw new BusyError(this.#options.busy);
    this.#reading = true;
    return {
      next: () => {
        this.#finishTaken();
        return this.#next();
      },
      return: async () => {
        this.#finishTaken();
        this.#reading = false;
        for (const item of this.#items) this.#options.unread?.(item);
        return { value: undefined, done: true };
      },
    };
  }

  #finishTaken(): void {
    const taken = this.#taken;
    this.#taken = undefined;
    if (taken !== undefined) this.#options.done?.(taken);
  }

  #next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) {
      const item = this.#items.shift() as T;
      this.#taken = item;
      this.#bytes -= this.#sizes.shift()!;
      if (this.#paused && this.#bytes <= this.#options.highWaterMark / 2) {
        this.#paused = false;
        this.#options.resume();
      }
      return Promise.resolve({ value: item, done: false });
    }
    if (this.#ended) {
      this.#reading = false;
      const failure = this.#takeFailure();
      return failure ? Promise.reject(failure) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  #takeFailure(): Error | null {
    const failure = this.#failure;
    this.#failure = null;
    return failure;
  }
}
