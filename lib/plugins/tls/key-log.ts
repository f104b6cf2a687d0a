/**
 * TLS secrets: what the TLS plugin yields with `keys`, in the NSS key log format that
 * Wireshark, curl, Go and node read and write (`LABEL <client random> <secret>`, hex),
 * and the key log file a command tapwire runs writes (SSLKEYLOGFILE, node's
 * --tls-keylog), followed as it grows.
 */
import fs from 'node:fs';

export interface TlsSecret {
  /** When it was read, ms since the epoch. */
  timestamp: number;
  timestampNs: bigint;
  /** The process whose handshake made it; absent for a line of a key log file. */
  pid?: number;
  comm?: string;
  /** Where it came from: a Go binary's writeKeyLog (by uprobe), or a key log file. */
  source: 'uprobe' | 'keylog';
  /** The binary (uprobe) or the key log file. */
  library: string;
  /** The NSS key log label: CLIENT_RANDOM (TLS 1.2), CLIENT_HANDSHAKE_TRAFFIC_SECRET... (TLS 1.3). */
  label: string;
  /** The handshake's client random, 32 bytes: names the connection. */
  clientRandom: Buffer;
  secret: Buffer;
}

/** The secret as one line of an NSS key log (no newline). */
export function keyLogLine(s: Pick<TlsSecret, 'label' | 'clientRandom' | 'secret'>): string {
  return `${s.label} ${s.clientRandom.toString('hex')} ${s.secret.toString('hex')}`;
}

const LINE = /^([A-Z0-9_]{1,64}) ([0-9a-fA-F]{64}) ((?:[0-9a-fA-F]{2}){1,128})$/;

/** The secrets of key log `text`, one per well-formed line; comments and anything else are skipped. */
export function parseKeyLog(text: string): { label: string; clientRandom: Buffer; secret: Buffer }[] {
  const out = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line.trim());
    if (m) out.push({ label: m[1]!, clientRandom: Buffer.from(m[2]!, 'hex'), secret: Buffer.from(m[3]!, 'hex') });
  }
  return out;
}

/** How often a followed key log file is read for new lines, ms. */
const POLL_MS = 50;

/**
 * Reads the lines appended to key log `file` (created empty, mode 0600) as they come,
 * each a secret to `onSecret`, until `close()`, which reads the last of them.
 */
export class KeyLogFollower {
  readonly #file: string;
  readonly #fd: number;
  readonly #onSecret: (secret: TlsSecret) => void;
  readonly #timer: NodeJS.Timeout;
  #offset = 0;
  #rest = '';

  constructor(file: string, onSecret: (secret: TlsSecret) => void) {
    this.#file = file;
    this.#fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600);
    this.#onSecret = onSecret;
    this.#timer = setInterval(() => this.#read(), POLL_MS);
    this.#timer.unref();
  }

  #read(): void {
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = fs.readSync(this.#fd, chunk, 0, chunk.length, this.#offset);
      if (n <= 0) break;
      this.#offset += n;
      const text = this.#rest + chunk.toString('latin1', 0, n);
      const end = text.lastIndexOf('\n');
      this.#rest = text.slice(end + 1);
      const ms = Date.now();
      for (const s of parseKeyLog(text.slice(0, end + 1))) {
        this.#onSecret({ ...s, timestamp: ms, timestampNs: BigInt(ms) * 1_000_000n, source: 'keylog', library: this.#file });
      }
    }
  }

  /** Reads what was appended since the last look, and stops. */
  close(): void {
    clearInterval(this.#timer);
    this.#read();
    fs.closeSync(this.#fd);
  }
}
