/**
 * HTTP/2 on one stream (h2c with prior knowledge, or h2 in TLS plaintext): frames are
 * split here (RFC 9113 §4: a 9-byte header), header blocks (HEADERS, CONTINUATION,
 * PUSH_PROMISE) are decoded by hpack.js, one decoder per direction so the dynamic
 * tables stay in step. Each client stream is an exchange: the request's HEADERS, the
 * response's HEADERS (1xx noted), DATA counted, trailers (gRPC's grpc-status), ended by
 * the server's END_STREAM or RST_STREAM.
 *
 * Bounds: a frame larger than `MAX_FRAME` or a header block (encoded, or decoded: an
 * HPACK bomb) larger than `maxHeaderBytes` stops the connection's parsing, counted.
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

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Larger than any SETTINGS_MAX_FRAME_SIZE a peer would use in practice (the protocol allows 16 MiB). */
const MAX_FRAME = 1024 * 1024;
/** Streams with an exchange in flight; a connection opening more is not followed further. */
const MAX_OPEN_STREAMS = 1024;
/** The largest HPACK dynamic table a decoder accepts (a larger table keeps old entries longer: indexes stay right). */
const MAX_TABLE = 65536;

const DATA = 0;
const HEADERS = 1;
const RST_STREAM = 3;
const PUSH_PROMISE = 5;
const CONTINUATION = 9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

interface Decompressor {
  write(data: Buffer): void;
  execute(): void;
  read(): { name: string; value: string } | null;
  push(item: unknown): boolean;
  on(event: 'error', listener: (err: Error) => void): void;
}

interface HpackModule {
  decompressor: { create(options: { table: { maxSize: number } }): Decompressor };
}

class Direction {
  /** Bytes of an incomplete frame. */
  pending: Buffer = Buffer.alloc(0);
  /** The preface still expected (client side only), bytes of it left. */
  preface: number;
  readonly decoder: Decompressor;
  /** A header block waiting for its CONTINUATION frames: stream, flags of the first frame, fragments. */
  block: { stream: number; endStream: boolean; promise: boolean; parts: Buffer[]; bytes: number } | null = null;
  decoded = 0;
  failure: Error | null = null;

  constructor(hpack: HpackModule, client: boolean, limit: number) {
    this.preface = client ? PREFACE.length : 0;
    this.decoder = hpack.decompressor.create({ table: { maxSize: MAX_TABLE } });
    this.decoder.on('error', (err) => (this.failure ??= err));
    // An HPACK bomb (small references to large table entries) is stopped as it decodes, not after.
    const push = this.decoder.push.bind(this.decoder);
    this.decoder.push = (item: unknown): boolean => {
      const h = item as { name: string; value: string };
      this.decoded += h.name.length + h.value.length + 32;
      if (this.decoded > limit) throw new Error(`decoded header list over ${limit} bytes`);
      return push(item);
    };
  }

  /** Decodes one header block; null when it does not decode (the connection cannot be followed further). */
  decode(block: Buffer): [string, string][] | null {
    this.decoded = 0;
    this.decoder.write(block);
    this.decoder.execute();
    const out: [string, string][] = [];
    for (let h = this.decoder.read(); h !== null; h = this.decoder.read()) out.push([h.name, h.value]);
    return this.failure ? null : out;
  }
}

export class Http2Connection {
  readonly #stream: TcpStream;
  readonly #sink: ExchangeSink;
  readonly #stats: HttpStats;
  readonly #bodies: number;
  readonly #limit: number;
  readonly #client: Direction;
  readonly #server: Direction;
  readonly #scheme: 'http' | 'https';
  readonly #open = new Map<number, HttpExchange>();
  #time = 0;
  #stopped = false;

  constructor(stream: TcpStream, sink: ExchangeSink, stats: HttpStats, options: { bodies: number; maxHeaderBytes: number }) {
    const hpack = optional<HpackModule>('hpack.js', 'HTTP/2 parsing');
    this.#stream = stream;
    this.#sink = sink;
    this.#stats = stats;
    this.#bodies = options.bodies;
    this.#limit = options.maxHeaderBytes;
    this.#client = new Direction(hpack, true, this.#limit);
    this.#server = new Direction(hpack, false, this.#limit);
    this.#scheme = stream.kind === 'tls' ? 'https' : 'http';
  }

  data(from: Side, bytes: Uint8Array, time: number): void {
    if (this.#stopped) return;
    this.#time = time;
    const d = from === 'client' ? this.#client : this.#server;
    let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (d.preface > 0) {
      const n = Math.min(d.preface, buf.length);
      const at = PREFACE.length - d.preface;
      if (!buf.subarray(0, n).equals(PREFACE.subarray(at, at + n))) return this.#stop('malformed');
      d.preface -= n;
      buf = buf.subarray(n);
    }
    if (d.pending.length > 0) buf = Buffer.concat([d.pending, buf]);
    let at = 0;
    while (!this.#stopped && at + 9 <= buf.length) {
      const length = buf.readUIntBE(at, 3);
      if (length > MAX_FRAME) return this.#stop('malformed');
      if (at + 9 + length > buf.length) break;
      this.#frame(from, d, buf[at + 3]!, buf[at + 4]!, buf.readUInt32BE(at + 5) & 0x7fffffff, buf.subarray(at + 9, at + 9 + length));
      at += 9 + length;
    }
    // What is left is the start of a frame: kept (copied: the stream's bytes are not held).
    d.pending = Buffer.from(buf.subarray(at));
  }

  #frame(from: Side, d: Direction, type: number, flags: number, id: number, payload: Buffer): void {
    if (d.block !== null && type !== CONTINUATION) return this.#stop('malformed');
    switch (type) {
      case DATA: {
        const body = unpadded(payload, flags);
        if (body === null) return this.#stop('malformed');
        const ex = this.#open.get(id);
        const message = from === 'client' ? ex?.request : ex?.response;
        if (ex && message) {
          message.bodyBytes += body.length;
          keep(message, body, this.#bodies);
        }
        if (flags & END_STREAM) this.#endStream(from, id);
        return;
      }
      case HEADERS:
      case PUSH_PROMISE: {
        let fragment = unpadded(payload, flags);
        if (fragment === null) return this.#stop('malformed');
        // PRIORITY adds 5 bytes; PUSH_PROMISE a 4-byte promised stream id.
        const skip = type === HEADERS ? (flags & PRIORITY ? 5 : 0) : 4;
        if (fragment.length < skip) return this.#stop('malformed');
        fragment = fragment.subarray(skip);
        d.block = {
          stream: id,
          endStream: type === HEADERS && (flags & END_STREAM) !== 0,
          promise: type === PUSH_PROMISE,
          parts: [],
          bytes: 0,
        };
        return this.#fragment(from, d, fragment, flags);
      }
      case CONTINUATION:
        if (d.block === null || d.block.stream !== id) return this.#stop('malformed');
        return this.#fragment(from, d, payload, flags);
      case RST_STREAM: {
        const ex = this.#open.get(id);
        if (ex) {
          this.#open.delete(id);
          ex.incomplete = 'reset';
          this.#emit(ex);
        }
        return;
      }
      default:
      // SETTINGS, PING, GOAWAY, WINDOW_UPDATE, PRIORITY and unknown types carry no exchange.
    }
  }

  #fragment(from: Side, d: Direction, fragment: Buffer, flags: number): void {
    const block = d.block!;
    block.parts.push(Buffer.from(fragment));
    block.bytes += fragment.length;
    if (block.bytes > this.#limit) return this.#stop('malformed');
    if (!(flags & END_HEADERS)) return;
    d.block = null;
    const headers = d.decode(Buffer.concat(block.parts));
    if (headers === null) return this.#stop('malformed');
    // A promised request's headers keep the decoder in step; the pushed response is not an exchange of the client's.
    if (block.promise) return;
    if (from === 'client') this.#request(block.stream, headers);
    else this.#response(block.stream, headers);
    if (block.endStream) this.#endStream(from, block.stream);
  }

  #request(id: number, all: [string, string][]): void {
    if (this.#open.has(id)) {
      // Trailers of the request.
      this.#open.get(id)!.request.trailers = all;
      return;
    }
    if (this.#open.size >= MAX_OPEN_STREAMS) return this.#stop('malformed');
    const pseudo = (name: string): string | undefined => all.find(([n]) => n === name)?.[1];
    const headers = all.filter(([n]) => !n.startsWith(':'));
    const host = pseudo(':authority') ?? header(headers, 'host') ?? null;
    const path = pseudo(':path') ?? '';
    const ex: HttpExchange = {
      protocol: this.#scheme === 'https' ? 'h2' : 'h2c',
      scheme: this.#scheme,
      method: pseudo(':method') ?? '',
      host,
      path,
      url: urlOf(pseudo(':scheme') ?? this.#scheme, host, path),
      status: null,
      request: { headers, bodyBytes: 0 },
      response: null,
      time: { request: this.#time, requestEnd: null, response: null, responseEnd: null },
      latency: null,
      client: clientOf(this.#stream),
      server: serverOf(this.#stream),
      stream: this.#stream,
      streamId: id,
    };
    const grpc = grpcOf(path, header(headers, 'content-type'));
    if (grpc) ex.grpc = grpc;
    this.#open.set(id, ex);
  }

  #response(id: number, all: [string, string][]): void {
    const ex = this.#open.get(id);
    if (!ex) return;
    const headers = all.filter(([n]) => !n.startsWith(':'));
    const status = Number(all.find(([n]) => n === ':status')?.[1] ?? NaN);
    if (ex.response === null && status >= 100 && status < 200) {
      (ex.informational ??= []).push(status);
      return;
    }
    if (ex.response === null) {
      ex.status = Number.isFinite(status) ? status : null;
      ex.response = { headers, bodyBytes: 0 };
      ex.time.response = this.#time;
      ex.latency = this.#time - ex.time.request;
    } else {
      ex.response.trailers = headers;
    }
    if (ex.grpc) ex.grpc = { ...ex.grpc, ...grpcStatus(headers) };
  }

  #endStream(from: Side, id: number): void {
    const ex = this.#open.get(id);
    if (!ex) return;
    if (from === 'client') {
      ex.time.requestEnd = this.#time;
      return;
    }
    this.#open.delete(id);
    ex.time.responseEnd = this.#time;
    this.#emit(ex);
  }

  hole(_from: Side, _size: number, time: number): void {
    this.#time = time;
    this.#stop('hole');
  }

  close(time: number): void {
    this.#time = time;
    this.#stop(null);
  }

  #emit(ex: HttpExchange): void {
    this.#stats.exchanges++;
    this.#sink(ex);
  }

  #stop(why: 'hole' | 'malformed' | null): void {
    if (this.#stopped) return;
    this.#stopped = true;
    reportInFlight(this.#open.values(), why, this.#stats, this.#sink);
    this.#open.clear();
    this.#client.pending = this.#server.pending = Buffer.alloc(0);
  }
}

/** A frame's payload without its padding (PADDED: a length byte first, that many bytes last); null when the padding does not fit. */
function unpadded(payload: Buffer, flags: number): Buffer | null {
  if (!(flags & PADDED)) return payload;
  if (payload.length < 1) return null;
  const pad = payload[0]!;
  if (pad > payload.length - 1) return null;
  return payload.subarray(1, payload.length - pad);
}
