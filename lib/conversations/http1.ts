/**
 * HTTP/1.x on one stream: http-parser-js (Node's HTTPParser interface, in JavaScript)
 * parses each direction; requests queue in order and each response takes the oldest
 * (pipelining). HEAD, 1xx, 204 and 304 responses have no body; a 1xx (100-continue)
 * is noted and the final response awaited; an upgrade (101, or CONNECT's 2xx) ends the
 * parsing cleanly. A hole, bytes that do not parse, or a limit passed (the header
 * block, a chunk-size line) stops the stream's parsing; what was in flight is reported
 * incomplete.
 */
import type { Side, TcpStream } from './streams';
import { optional } from './optional';
import {
  clientOf,
  reportInFlight,
  serverOf,
  grpcOf,
  grpcStatus,
  header,
  keep,
  urlOf,
  type ExchangeSink,
  type HttpExchange,
  type HttpStats,
} from './http-exchange';

interface HeaderInfo {
  versionMajor: number;
  versionMinor: number;
  headers: string[];
  method: number;
  url: string;
  statusCode: number;
  statusMessage: string;
  upgrade: boolean;
}

interface Parser {
  execute(data: Buffer): number | Error;
  finish(): void | Error;
  /** The line being read (http-parser-js's state): bounds a chunk-size or trailer line that never ends. */
  line: string;
  maxHeaderSize: number;
  [key: number]: unknown;
}

interface ParserModule {
  HTTPParser: {
    new (type: number): Parser;
    REQUEST: number;
    RESPONSE: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
    methods: string[];
  };
}

const MAX_LINE = 8 * 1024;

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

export class Http1Connection {
  readonly #sink: ExchangeSink;
  readonly #stats: HttpStats;
  readonly #bodies: number;
  readonly #request: Parser;
  readonly #response: Parser;
  readonly #scheme: 'http' | 'https';
  /** Requests in order, waiting for (or receiving) their responses. */
  readonly #pending: HttpExchange[] = [];
  /** The request being received, and the exchange whose response is being received. */
  #inRequest: HttpExchange | null = null;
  #inResponse: HttpExchange | null = null;
  #time = 0;
  #stopped = false;

  constructor(stream: TcpStream, sink: ExchangeSink, stats: HttpStats, options: { bodies: number; maxHeaderBytes: number }) {
    const { HTTPParser } = optional<ParserModule>('http-parser-js', 'HTTP/1 parsing');
    this.#sink = sink;
    this.#stats = stats;
    this.#bodies = options.bodies;
    this.#scheme = stream.kind === 'tls' ? 'https' : 'http';
    this.#request = new HTTPParser(HTTPParser.REQUEST);
    this.#response = new HTTPParser(HTTPParser.RESPONSE);
    for (const p of [this.#request, this.#response]) p.maxHeaderSize = options.maxHeaderBytes;
    const methods = HTTPParser.methods;

    this.#request[HTTPParser.kOnHeadersComplete] = (info: HeaderInfo): number => {
      const headers = pairs(info.headers);
      const host = header(headers, 'host') ?? null;
      const method = methods[info.method] ?? String(info.method);
      const ex: HttpExchange = {
        protocol: `HTTP/${info.versionMajor}.${info.versionMinor}`,
        scheme: this.#scheme,
        method,
        host,
        path: info.url,
        url: urlOf(this.#scheme, host, info.url),
        status: null,
        request: { headers, bodyBytes: 0 },
        response: null,
        time: { request: this.#time, requestEnd: null, response: null, responseEnd: null },
        latency: null,
        client: clientOf(stream),
        server: serverOf(stream),
        stream,
      };
      const grpc = grpcOf(info.url, header(headers, 'content-type'));
      if (grpc) ex.grpc = grpc;
      this.#inRequest = ex;
      this.#pending.push(ex);
      return 0;
    };
    this.#request[HTTPParser.kOnBody] = (chunk: Buffer, offset: number, length: number): void => {
      if (!this.#inRequest) return;
      this.#inRequest.request.bodyBytes += length;
      keep(this.#inRequest.request, chunk.subarray(offset, offset + length), this.#bodies);
    };
    this.#request[HTTPParser.kOnHeaders] = (trailers: string[]): void => {
      if (this.#inRequest) this.#inRequest.request.trailers = pairs(trailers);
    };
    this.#request[HTTPParser.kOnMessageComplete] = (): void => {
      if (this.#inRequest) this.#inRequest.time.requestEnd = this.#time;
      this.#inRequest = null;
    };

    this.#response[HTTPParser.kOnHeadersComplete] = (info: HeaderInfo): number => {
      const ex = this.#pending[0];
      if (!ex) {
        // A response to no request seen (the capture began mid-connection): nothing to pair it with.
        this.#stop('malformed');
        return 1;
      }
      const status = info.statusCode;
      if (status >= 100 && status < 200 && status !== 101) {
        (ex.informational ??= []).push(status);
        return 1;
      }
      const headers = pairs(info.headers);
      ex.status = status;
      ex.response = { headers, bodyBytes: 0 };
      ex.time.response = this.#time;
      ex.latency = this.#time - ex.time.request;
      if (ex.grpc) ex.grpc = { ...ex.grpc, ...grpcStatus(headers) };
      this.#inResponse = ex;
      const upgrade = status === 101 || (ex.method === 'CONNECT' && status >= 200 && status < 300);
      if (upgrade) ex.upgrade = status === 101 ? (header(headers, 'upgrade') ?? 'unknown') : 'CONNECT';
      // No body: HEAD, 204, 304 (and 101, whose bytes after are the new protocol's).
      return ex.method === 'HEAD' || status === 204 || status === 304 || upgrade ? 1 : 0;
    };
    this.#response[HTTPParser.kOnBody] = (chunk: Buffer, offset: number, length: number): void => {
      const r = this.#inResponse?.response;
      if (!r) return;
      r.bodyBytes += length;
      keep(r, chunk.subarray(offset, offset + length), this.#bodies);
    };
    this.#response[HTTPParser.kOnHeaders] = (trailers: string[]): void => {
      const ex = this.#inResponse;
      if (!ex?.response) return;
      ex.response.trailers = pairs(trailers);
      if (ex.grpc) ex.grpc = { ...ex.grpc, ...grpcStatus(ex.response.trailers) };
    };
    this.#response[HTTPParser.kOnMessageComplete] = (): void => {
      const ex = this.#inResponse;
      if (!ex) return;
      this.#inResponse = null;
      ex.time.responseEnd = this.#time;
      this.#pending.shift();
      this.#emit(ex);
      if (ex.upgrade) this.#stop(null);
    };
  }

  data(from: Side, bytes: Uint8Array, time: number): void {
    if (this.#stopped) return;
    this.#time = time;
    const parser = from === 'client' ? this.#request : this.#response;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const result = parser.execute(buf);
    if (this.#stopped) return;
    if (result instanceof Error || parser.line.length > MAX_LINE) this.#stop('malformed');
  }

  hole(_from: Side, _size: number, time: number): void {
    this.#time = time;
    this.#stop('hole');
  }

  close(time: number): void {
    if (this.#stopped) return;
    this.#time = time;
    // A response read until the connection closed ends here.
    this.#response.finish();
    this.#stop(null);
  }

  #emit(ex: HttpExchange): void {
    this.#stats.exchanges++;
    this.#sink(ex);
  }

  /** Stops parsing; what was in flight is reported as incomplete (`why`, or 'no-response'). */
  #stop(why: 'hole' | 'malformed' | null): void {
    if (this.#stopped) return;
    this.#stopped = true;
    reportInFlight(this.#pending.splice(0), why, this.#stats, this.#sink);
  }
}
