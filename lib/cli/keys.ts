/**
 * `tapwire capture --embed-keys` and `--keylog FILE`: the TLS secrets the plugin reads,
 * into the pcapng file as Decryption Secrets Blocks (Wireshark then decrypts the
 * captured packets from the file alone) and appended to an NSS key log file.
 *
 * Wireshark reads a file in one pass and uses a secret only for the packets after it,
 * while a handshake's secret is read a little after its packets arrive: packets are
 * held back HOLD_MS (at most HOLD_BYTES) before they are written, and secrets are
 * written as they come, ahead of them.
 */
import fs from 'node:fs';
import type { Batch } from '../batch';
import { fromFileSystem } from '../errors';
import type { CaptureFileWriter, Select } from '../pcapng';
import { keyLogLine, type TlsPlugin } from '../plugins/tls';

const HOLD_MS = 1000;
const TICK_MS = 100;
const HOLD_BYTES = 64 * 1024 * 1024;

/** An NSS key log file, opened (created with mode 0600, or appended to) before the capture starts. */
export class KeyLogFile {
  readonly #fd: number;
  readonly #path: string;

  constructor(file: string) {
    this.#path = file;
    try {
      this.#fd = fs.openSync(file, 'a', 0o600);
      // An existing file keeps its mode under open(2): it holds keys, so only its owner reads it.
      fs.fchmodSync(this.#fd, 0o600);
    } catch (err) {
      throw fromFileSystem(err, 'open the key log', file);
    }
  }

  append(lines: string): void {
    try {
      fs.writeSync(this.#fd, lines);
    } catch (err) {
      throw fromFileSystem(err, 'write the key log', this.#path);
    }
  }

  close(): void {
    fs.closeSync(this.#fd);
  }
}

/**
 * Batches on their way to `writer`, each written once HOLD_MS old (or when more than
 * HOLD_BYTES wait). Age is counted in ticks of this process's own timer, not by the
 * clock: while the event loop is held up (a close detaching uprobes), no batch comes
 * of age before the secrets read meanwhile are written.
 */
export class HoldBack {
  readonly #writer: CaptureFileWriter;
  readonly #held: { batch: Batch; select: Select | undefined; tick: number }[] = [];
  #bytes = 0;
  #ticks = 0;
  /** Writes happen one after another: the loop's and the timer's. */
  #writing: Promise<void> = Promise.resolve();
  readonly #timer: NodeJS.Timeout;

  constructor(writer: CaptureFileWriter) {
    this.#writer = writer;
    this.#timer = setInterval(() => {
      this.#ticks++;
      void this.#flush(false).catch(() => {});
    }, TICK_MS);
    this.#timer.unref();
  }

  /** Holds `batch`; resolves once the writer has room again. */
  write(batch: Batch, select?: Select): Promise<void> {
    // Held past the next batch: a lent one (--zero-copy) is copied.
    const held = batch.copy();
    this.#held.push({ batch: held, select, tick: this.#ticks });
    this.#bytes += held.data.byteLength;
    return this.#flush(false);
  }

  /** Writes everything held (the capture ended). */
  async end(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flush(true);
  }

  #flush(all: boolean): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      const due = this.#ticks - HOLD_MS / TICK_MS;
      while (this.#held.length > 0 && (all || this.#held[0]!.tick <= due || this.#bytes > HOLD_BYTES)) {
        const { batch, select } = this.#held.shift()!;
        this.#bytes -= batch.data.byteLength;
        if (!this.#writer.write(batch, select)) await this.#writer.drained();
      }
    });
    return this.#writing;
  }
}

/** How many recent key log lines are remembered to write each once. */
const RECENT_LINES = 4096;

/**
 * Each secret the plugin reads, as a key log line into `file` and into the capture file;
 * a line already written lately (both ends of a connection on this host, a command's key
 * log and its library's uprobe) is not written again.
 */
export async function copySecrets(
  tls: TlsPlugin,
  file: KeyLogFile | null,
  writer: { writeSecrets(keyLog: string): boolean; drained(): Promise<void> } | null,
): Promise<void> {
  const recent = new Set<string>();
  for await (const secret of tls.secrets) {
    const line = `${keyLogLine(secret)}\n`;
    if (recent.has(line)) continue;
    recent.add(line);
    if (recent.size > RECENT_LINES) recent.delete(recent.values().next().value!);
    file?.append(line);
    if (writer && !writer.writeSecrets(line)) await writer.drained();
  }
}
