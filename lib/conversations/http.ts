/**
 * httpExchanges(source): HTTP/1.x and HTTP/2 exchanges from every TCP stream and TLS
 * plaintext stream of a source. A stream is told by its client's first bytes: the
 * HTTP/2 preface, a TLS record (ciphertext: passed over, its plaintext comes from the
 * TLS plugin), or else HTTP/1 (bytes that are not HTTP stop its parser at once).
 */
import { drive, type ConversationSource, type DriveOptions } from './drive';
import { StreamTable, type Side, type StreamHandler, type StreamOptions, type TcpStream } from './streams';
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
const PRI = 'PRI ';

/** A StreamHandler that turns streams into HTTP exchanges for `sink`. */
export class HttpParsers implements StreamHandler {
  readonly stats: HttpStats = { http1: 0, http2: 0, other: 0, exchanges: 0, malformed: 0, holes: 0 };
  readonly #sink: (ex: HttpExchange) => void;
  readonly #options: { bodies: number; maxHeaderBytes: number };
  readonly #connections = new Map<TcpStream, Connection>();
  readonly #early = new Map<TcpStream, { chunks: { from: Side; data: Buffer; time: number }[]; bytes: number; client: Buffer }>();

  constructor(sink: (ex: HttpExchange) => void, options: HttpOptions = {}) {
    this.#sink = sink;
    this.#options = { bodies: options.bodies ?? 0, maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES };
  }

  data(stream: TcpStream, from: Side, data: Uint8Array, time: number): void {
    const c = this.#connections.get(stream);
    if (c) return c.data(from, data, time);
    // Until the client's first bytes tell the protocol, both sides' bytes wait (bounded):
    // the server may speak first (an HTTP/2 server's SETTINGS), and "P" may begin the
    // HTTP/2 preface or a POST.
    const early = this.#early.get(stream) ?? { chunks: [], bytes: 0, client: Buffer.alloc(0) };
    this.#early.set(stream, early);
    early.chunks.push({ from, data: Buffer.from(data), time });
    early.bytes += data.length;
    if (from === 'client') early.client = Buffer.concat([early.client, data]).subarray(0, PREFACE.length);
    const decided = this.#classify(stream, early.client) ?? (early.bytes > MAX_EARLY_BYTES ? this.#passOver() : null);
    if (decided === null) return;
    this.#connections.set(stream, decided);
    this.#early.delete(stream);
    for (const chunk of early.chunks) decided.data(chunk.from, chunk.data, chunk.time);
  }

  #passOver(): Connection {
    this.stats.other++;
    return PASSED_OVER;
  }

  /** The protocol the client's first bytes speak, or null while they cannot tell yet. */
  #classify(stream: TcpStream, client: Buffer): Connection | null {
    if (client.length === 0) return null;
    // TLS ciphertext is not HTTP as this layer reads it (its plaintext comes from the TLS plugin).
    if (client[0] === TLS_HANDSHAKE) return this.#passOver();
    // "PRI " begins only the HTTP/2 preface.
    if (client.equals(PREFACE.subarray(0, client.length))) {
      if (client.length < PRI.length) return null;
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
