/** The live counter a capture shows on a terminal: packets, bytes, rate and drops, redrawn in place. */

const INTERVAL_MS = 500;

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export interface Progress {
  packets: number;
  bytes: number;
  drops: number;
}

export class StatusLine {
  readonly #stream: NodeJS.WriteStream;
  readonly #timer: NodeJS.Timeout;
  #lastPackets = 0;
  #lastTime = Date.now();

  constructor(progress: () => Progress, stream: NodeJS.WriteStream) {
    this.#stream = stream;
    this.#timer = setInterval(() => {
      const p = progress();
      const now = Date.now();
      const rate = ((p.packets - this.#lastPackets) * 1000) / Math.max(1, now - this.#lastTime);
      this.#lastPackets = p.packets;
      this.#lastTime = now;
      this.#stream.write(`\r\x1b[K${p.packets} packets  ${size(p.bytes)}  ${Math.round(rate)} pkt/s  ${p.drops} dropped`);
    }, INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#stream.write('\r\x1b[K');
  }
}
