/**
 * httpExchanges(source): HTTP/1.x and HTTP/2 exchanges from every TCP stream and TLS
 * plaintext stream of a source. A stream is told by its client's first bytes: the
 * HTTP/2 preface, a TLS record (ciphertext: passed over, its plaintext comes from the
 * TLS plugin), or else HTTP/1 (bytes that are not HTTP stop its parser at once).
 */
import { drive, type ConversationSource, type DriveOptions } from '../drive';
import { StreamTable, type Side, type StreamHandler, type StreamOptions, type TcpStream } from '../streams';
import type { HttpExchange, HttpOptions, HttpStats } from './http-exchange';
import { Http1Connection } from './http1';
import { Http2Connection, PREFACE } from './http2';

interface Connection {
  data(from: Side, bytes: Uint8Array, time: number): void;
  hole(from: Side, size: number, time: number): void;
  close(time: number): void;
}

const TLS_HANDSHAKE = 0x16;
const PASSED_OVER: Connection = { data: () => {}, hole: () => {}, close: () => {} };
const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;
const MAX_EARLY_BYTES = 64 * 1024;

/** A StreamHandler that turns streams into HTTP exchanges for `sink`. */
export class HttpParsers implements StreamHandler {
  readonly stats: HttpStats = { http1: 0, http2: 0, other: 0, exchanges: 0, malformed: 0, holes: 0 };
  readonly #sink: (ex: HttpExchange) => void;
  readonly #options: { bodies: number; maxHeaderBytes: number };
  readonly #connections = new Map<TcpStream, Connection>();
  readonly #early = new Map<TcpStream, { chunks: { data: Buffer; time: number }[]; bytes: number }>();

  constructor(sink: (ex: HttpExchange) => void, options: HttpOptions = {}) {
    this.#sink = sink;
    this.#options = { bodies: options.bodies ?? 0, maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES };
  }

  data(stream: TcpStream, from: Side, data: Uint8Array, time: number): void {
    let c = this.#connections.get(stream);
    if (!c) {
      // The server may speak first (an HTTP/2 server's SETTINGS): its bytes wait, bounded, for the client's.
      if (from === 'server') {
        const early = this.#early.get(stream) ?? { chunks: [], bytes: 0 };
        early.chunks.push({ data: Buffer.from(data), time });
        early.bytes += data.length;
        if (early.bytes <= MAX_EARLY_BYTES) return void this.#early.set(stream, early);
        this.#early.delete(stream);
        c = PASSED_OVER;
        this.stats.other++;
      } else {
        c = this.#classify(stream, data);
      }
      this.#connections.set(stream, c);
      for (const chunk of this.#early.get(stream)?.chunks ?? []) c.data('server', chunk.data, chunk.time);
      this.#early.delete(stream);
    }
    c.data(from, data, time);
  }

  #classify(stream: TcpStream, data: Uint8Array): Connection {
    // TLS ciphertext is not HTTP as this layer reads it (its plaintext comes from the TLS plugin).
    if (data[0] === TLS_HANDSHAKE) {
      this.stats.other++;
      return PASSED_OVER;
    }
    const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.length, PREFACE.length));
    if (head.equals(PREFACE.subarray(0, head.length))) {
      this.stats.http2++;
      return new Http2Connection(stream, this.#sink, this.stats, this.#options);
    }
    this.stats.http1++;
    return new Http1Connection(stream, this.#sink, this.stats, this.#options);
  }

  hole(stream: TcpStream, from: Side, size: number, time: number): void {
    const c = this.#connections.get(stream);
    if (c) c.hole(from, size, time);
    else if (this.#early.delete(stream)) this.#connections.set(stream, PASSED_OVER);
  }

  close(stream: TcpStream, time: number): void {
    this.#connections.get(stream)?.close(time);
    this.#connections.delete(stream);
    if (this.#early.delete(stream)) this.stats.other++;
  }
}

/**
 * Every HTTP exchange of `source` (a live or replayed Capturer, captureCommand()'s
 * result, any async iterable of batches; with TLS on, the TLS plaintext too) once its
 * response has ended, or once it can be said that none will come (`incomplete`).
 */
export async function* httpExchanges(
  source: ConversationSource,
  options: HttpOptions & StreamOptions & DriveOptions = {},
): AsyncGenerator<HttpExchange> {
  const out: HttpExchange[] = [];
  const parsers = new HttpParsers((ex) => out.push(ex), options);
  yield* drive(source, options, new StreamTable(parsers, options), out);
}
