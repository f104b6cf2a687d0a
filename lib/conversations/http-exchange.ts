/** One HTTP request and its response, whichever HTTP version carried them. */
import type { TcpStream } from './streams';

export interface HttpMessage {
  /** Header names as sent (HTTP/2: lower case), in order; pseudo-headers left out. */
  headers: [string, string][];
  /** Body bytes (after chunked decoding; HTTP/2: DATA payload), whether or not kept. */
  bodyBytes: number;
  /** The body's first `bodies` bytes, when asked for (option `bodies`). */
  body?: Buffer;
  /** Trailers (chunked trailers, HTTP/2 trailing HEADERS), where sent. */
  trailers?: [string, string][];
}

export interface HttpExchange {
  /** 'HTTP/1.1', 'HTTP/1.0', 'h2' (HTTP/2 over TLS plaintext) or 'h2c'. */
  protocol: string;
  /** 'https' for TLS plaintext, else 'http'. */
  scheme: 'http' | 'https';
  method: string;
  /** The Host header (HTTP/2: :authority), or null. */
  host: string | null;
  /** The request target as sent: a path with its query (or a whole URL, or CONNECT's host:port). */
  path: string;
  /** scheme://host/path, or the target alone without a host. */
  url: string;
  /** The final response's status (after any 1xx), or null when none came. */
  status: number | null;
  request: HttpMessage;
  response: HttpMessage | null;
  /** Capture times, ms: request start, its end, the response's headers, its end. */
  time: { request: number; requestEnd: number | null; response: number | null; responseEnd: number | null };
  /** ms from the request's first bytes to the response's headers, or null. */
  latency: number | null;
  /** The client: its address and port (null for TLS plaintext whose connection is unknown) and process. */
  client: { address: string | null; port: number | null; pid: number | null; comm: string | null };
  server: { address: string | null; port: number | null; pid: number | null; comm: string | null };
  /** The stream it came on (TCP flow or TLS connection). */
  stream: TcpStream;
  /** HTTP/2 stream id. */
  streamId?: number;
  /** A 1xx before the final response (100-continue). */
  informational?: number[];
  /** The connection switched protocols here (101, or CONNECT's 2xx): its parsing stopped cleanly. */
  upgrade?: string;
  /** gRPC (content-type application/grpc): the service and method from the path, and grpc-status / grpc-message. */
  grpc?: { service: string; method: string; status: number | null; message: string | null };
  /** Why it is incomplete: no response came before the stream closed, data went missing, or the bytes did not parse. */
  incomplete?: 'no-response' | 'hole' | 'malformed' | 'reset';
}

export interface HttpStats {
  /** Streams parsed as HTTP/1, as HTTP/2, and passed over (not HTTP: TLS ciphertext, other protocols). */
  http1: number;
  http2: number;
  other: number;
  exchanges: number;
  /** Streams whose parsing stopped on bytes that do not parse, or on a limit (header block, line length). */
  malformed: number;
  /** Streams whose parsing stopped at a hole. */
  holes: number;
}

export interface HttpOptions {
  /** Keep up to this many bytes of each body. Default 0 (sizes only). */
  bodies?: number;
  /** Largest header block (HTTP/1 head, HTTP/2 decoded header list), bytes. Default 64 KiB. */
  maxHeaderBytes?: number;
}

export type ExchangeSink = (exchange: HttpExchange) => void;

/** The client end's identity for an exchange on `stream`: its process from attribution, or from the TLS calls when they are the client's. */
export function clientOf(stream: TcpStream): HttpExchange['client'] {
  const p = stream.kind === 'tls' ? (stream.tls?.side === 'client' ? stream.tls : null) : (stream.flow?.client.process ?? null);
  return { address: stream.client.address, port: stream.client.port, pid: p?.pid ?? null, comm: p?.comm ?? null };
}

/** The server end: its process where known (attribution, or the TLS calls when they are the server's). */
export function serverOf(stream: TcpStream): HttpExchange['server'] {
  const p = stream.kind === 'tls' ? (stream.tls?.side === 'server' ? stream.tls : null) : (stream.flow?.server.process ?? null);
  return { address: stream.server.address, port: stream.server.port, pid: p?.pid ?? null, comm: p?.comm ?? null };
}

export function urlOf(scheme: string, host: string | null, path: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return path;
  return host ? `${scheme}://${host}${path.startsWith('/') ? path : `/${path}`}` : path;
}

/** Appends what fits of `data` to a kept body. */
export function keep(message: HttpMessage, data: Uint8Array, limit: number): void {
  if (limit <= 0) return;
  const have = message.body?.length ?? 0;
  if (have >= limit) return;
  const more = Buffer.from(data.subarray(0, limit - have));
  message.body = message.body ? Buffer.concat([message.body, more]) : more;
}

/** gRPC's service and method from a path /package.Service/Method. */
export function grpcOf(path: string, contentType: string | undefined): HttpExchange['grpc'] | undefined {
  if (!contentType?.startsWith('application/grpc')) return undefined;
  const m = /^\/([^/]+)\/([^/?]+)/.exec(path);
  return { service: m?.[1] ?? '', method: m?.[2] ?? '', status: null, message: null };
}

/** A header's value by its lower-case name (the first of several). */
export function header(list: [string, string][], name: string): string | undefined {
  for (const [n, v] of list) if (n.toLowerCase() === name) return v;
  return undefined;
}

export function grpcStatus(headers: [string, string][]): { status: number | null; message: string | null } | object {
  const status = header(headers, 'grpc-status');
  if (status === undefined) return {};
  const message = header(headers, 'grpc-message');
  return { status: Number(status), message: message === undefined ? null : percentDecoded(message) };
}

/** grpc-message is percent-encoded; a malformed escape leaves it as sent. */
function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * A connection's parsing stopped (`why`: a hole, bytes that do not parse, or null for
 * its close): counted, and each exchange still in flight reported, incomplete unless
 * its response was whole at the close.
 */
export function reportInFlight(
  inFlight: Iterable<HttpExchange>,
  why: 'hole' | 'malformed' | null,
  stats: HttpStats,
  sink: ExchangeSink,
): void {
  if (why === 'hole') stats.holes++;
  if (why === 'malformed') stats.malformed++;
  for (const ex of inFlight) {
    if (why || !ex.response) ex.incomplete = why ?? 'no-response';
    stats.exchanges++;
    sink(ex);
  }
}
