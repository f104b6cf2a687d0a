/**
 * Where a capture file goes: a path (created, or truncated) or any Writable. Write
 * errors are kept and thrown by the next call, so a full disk is never silent.
 */
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { FileError, fromFileSystem, type TapwireError } from '../errors';

export interface OutputOptions {
  /** End a given Writable on close (default true; a path is always closed). */
  end?: boolean;
}

export class Output {
  readonly #stream: Writable;
  readonly #end: boolean;
  /** The file's path; undefined for a given stream. */
  readonly #path: string | undefined;
  #error: TapwireError | null = null;
  /** Bytes handed to the destination so far. */
  bytes = 0;

  constructor(target: string | Writable, options: OutputOptions = {}) {
    if (typeof target === 'string') {
      let fd: number;
      try {
        fd = fs.openSync(target, 'w');
      } catch (err) {
        throw fromFileSystem(err, 'create', target);
      }
      this.#stream = fs.createWriteStream(target, { fd });
      this.#end = true;
      this.#path = target;
    } else if (target && typeof target.write === 'function') {
      this.#stream = target;
      this.#end = options.end ?? true;
      this.#path = undefined;
    } else {
      throw new FileError('a capture file goes to a path or a Writable stream');
    }
    this.#stream.on('error', (err) => this.#fail(err));
  }

  /** False when the destination wants the writer to wait for `drained()`. */
  write(chunk: Buffer): boolean {
    if (this.#error) throw this.#error;
    this.bytes += chunk.length;
    return this.#stream.write(chunk);
  }

  async drained(): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#stream.writableNeedDrain) await this.#event('drain');
    if (this.#error) throw this.#error;
  }

  /** Writes the last bytes and resolves once everything reached the destination. */
  async finish(last: Buffer): Promise<void> {
    if (this.#error) throw this.#error;
    this.bytes += last.length;
    await new Promise<void>((resolve) =>
      this.#stream.write(last, (err) => {
        if (err) this.#fail(err);
        resolve();
      }),
    );
    if (this.#end && !this.#error) {
      // A file stream is done once its descriptor is closed; other streams when finished.
      const done = this.#event(this.#path !== undefined ? 'close' : 'finish');
      this.#stream.end();
      await done;
    }
    if (this.#error) throw this.#error;
  }

  #fail(err: Error): void {
    this.#error ??= fromFileSystem(err, 'write', this.#path);
  }

  /** Resolves on `event` or on an error (which the constructor's listener has kept). */
  #event(event: string): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#stream.off(event, done);
        this.#stream.off('error', done);
        resolve();
      };
      this.#stream.on(event, done);
      this.#stream.on('error', done);
    });
  }
}
