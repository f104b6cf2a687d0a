/**
 * Where a replayed capture's bytes come from. A regular file (or device) is read in
 * 1 MiB chunks on the thread pool. A pipe (a FIFO, or stdin fed by `tcpdump -w -`) is
 * opened without waiting for its writer and read as libuv sees it fill: a reader that
 * waits on a quiet pipe holds no thread, so an AbortSignal or close() ends the wait,
 * and process.exit() does not hang on it.
 */
import { constants, open as openFd } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';
import { fromFileSystem } from '../../errors';

const CHUNK = 1024 * 1024;

export interface Input {
  /** The next bytes, as many as are there; null at the end (or once closed). */
  read(): Promise<Buffer | null>;
  /** Frees the descriptor; a read in flight then gives null. */
  close(): Promise<void>;
}

class FileInput implements Input {
  constructor(
    readonly handle: fs.FileHandle,
    readonly path: string,
  ) {}

  async read(): Promise<Buffer | null> {
    const buf = Buffer.allocUnsafe(CHUNK);
    let bytesRead: number;
    try {
      ({ bytesRead } = await this.handle.read(buf, 0, CHUNK, null));
    } catch (err) {
      throw fromFileSystem(err, 'read', this.path);
    }
    return bytesRead > 0 ? buf.subarray(0, bytesRead) : null;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

class PipeInput implements Input {
  readonly #socket: net.Socket;
  readonly #chunks: AsyncIterator<Buffer, undefined>;
  readonly #path: string;
  #closed = false;

  /** `fd`: the pipe, opened non-blocking; the socket owns it from here. */
  constructor(fd: number, path: string) {
    this.#socket = new net.Socket({ fd, readable: true, writable: false });
    this.#chunks = this.#socket[Symbol.asyncIterator]();
    this.#path = path;
  }

  async read(): Promise<Buffer | null> {
    if (this.#closed) return null;
    try {
      const next = await this.#chunks.next();
      return next.done || this.#closed ? null : next.value;
    } catch (err) {
      if (this.#closed) return null; // closed while waiting: the stream ends early
      throw fromFileSystem(err, 'read', this.#path);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#socket.destroy();
  }
}

export async function openInput(path: string): Promise<Input> {
  try {
    if ((await fs.stat(path)).isFIFO()) {
      // A FIFO's open() for reading blocks until a writer opens it; O_NONBLOCK returns at once.
      return new PipeInput(await promisify(openFd)(path, constants.O_RDONLY | constants.O_NONBLOCK), path);
    }
    return new FileInput(await fs.open(path, 'r'), path);
  } catch (err) {
    throw fromFileSystem(err, 'open', path);
  }
}
