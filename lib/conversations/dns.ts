/**
 * DNS over UDP and TCP (port 53): messages decoded by dns-packet, each query matched to
 * its response by the flow, the message id and the question. TCP messages are framed by
 * their 2-byte length (RFC 1035 §4.2.2) on the reassembled stream. A message that does
 * not decode is counted and skipped (dns-packet refuses compression pointers that do not
 * point back, so a pointer loop cannot spin). A query unanswered within `queryTimeout`
 * (capture time), or when its flow ends, is reported without a response.
 */
import type { Flow } from './flow';
import { drive, type ConversationSource, type DriveOptions } from './drive';
import { StreamTable, type DatagramHandler, type Side, type StreamHandler, type StreamOptions, type TcpStream } from './streams';
import { optional } from './optional';

export interface DnsRecord {
  name: string;
  type: string;
  class: string;
  ttl: number;
  /** The record's data as text: an address, a name, "10 mail.example", TXT strings joined, else JSON. */
  data: string;
}

export interface DnsExchange {
  transport: 'udp' | 'tcp';
  client: { address: string; port: number; pid: number | null; comm: string | null };
  server: { address: string; port: number };
  id: number;
  /** The first question, from the query (or the response when the query was not seen). */
  question: { name: string; type: string; class: string } | null;
  /** The response's code ('NOERROR', 'NXDOMAIN', ...), null without a response. */
  rcode: string | null;
  answers: DnsRecord[];
  authorities: DnsRecord[];
  /** The response was truncated (TC): the client retries over TCP. */
  truncated: boolean;
  time: { query: number | null; response: number | null };
  latency: number | null;
  /** No response came (timeout or flow end), or a response came to no query seen. */
  unanswered?: true;
  unsolicited?: true;
  flow: Flow;
}

export interface DnsStats {
  queries: number;
  responses: number;
  /** Messages that did not decode. */
  malformed: number;
  exchanges: number;
}

export interface DnsOptions {
  /** Ports that carry DNS. Default [53]. */
  ports?: number[];
  /** ms of capture time a query waits for its response. Default 5000. */
  queryTimeout?: number;
}

interface DecodedRecord {
  name?: string;
  type?: string;
  class?: string;
  ttl?: number;
  data?: unknown;
}

interface Decoded {
  id?: number;
  type?: string;
  flag_tc?: boolean;
  rcode?: string;
  questions?: DecodedRecord[];
  answers?: DecodedRecord[];
  authorities?: DecodedRecord[];
}

interface DnsPacketModule {
  decode: (buf: Buffer) => Decoded;
}

const MAX_TCP_MESSAGE = 65535 + 2;
/** Queries waiting per flow before the oldest is reported unanswered. */
const MAX_WAITING = 256;

function text(data: unknown): string {
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data)) return data.toString('hex');
  if (Array.isArray(data)) return data.map((d) => (Buffer.isBuffer(d) ? d.toString('latin1') : text(d))).join(' ');
  if (data && typeof data === 'object') {
    const d = data as Record<string, unknown>;
    if (typeof d.exchange === 'string') return `${typeof d.preference === 'number' ? d.preference : 0} ${d.exchange}`;
    return JSON.stringify(data, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
  }
  return String(data);
}

function records(list: DecodedRecord[] | undefined): DnsRecord[] {
  return (list ?? []).map((r) => ({ name: r.name ?? '', type: r.type ?? '', class: r.class ?? '', ttl: r.ttl ?? 0, data: text(r.data) }));
}

/** An exchange as its query (or, with `query` null, a response to no query seen) makes it; `clientSent`: the flow's client asked. */
function newExchange(
  flow: Flow,
  transport: 'udp' | 'tcp',
  clientSent: boolean,
  id: number,
  question: DnsExchange['question'],
  query: number | null,
): DnsExchange {
  const [c, s] = clientSent ? [flow.client, flow.server] : [flow.server, flow.client];
  const p = query === null ? null : c.process;
  return {
    transport,
    client: { address: c.address, port: c.port, pid: p?.pid ?? null, comm: p?.comm ?? null },
    server: { address: s.address, port: s.port },
    id,
    question,
    rcode: null,
    answers: [],
    authorities: [],
    truncated: false,
    time: { query, response: null },
    latency: null,
    flow,
  };
}

interface Waiting {
  exchange: DnsExchange;
  key: string;
}

export class DnsParsers implements StreamHandler, DatagramHandler {
  readonly stats: DnsStats = { queries: 0, responses: 0, malformed: 0, exchanges: 0 };
  readonly #sink: (ex: DnsExchange) => void;
  readonly #ports: Set<number>;
  readonly #timeout: number;
  readonly #decode: DnsPacketModule['decode'];
  /** Queries waiting, by flow. */
  readonly #waiting = new Map<Flow, Waiting[]>();
  /** TCP: bytes of an incomplete message, per stream and direction. */
  readonly #partial = new Map<string, Buffer>();

  constructor(sink: (ex: DnsExchange) => void, options: DnsOptions = {}) {
    this.#sink = sink;
    this.#ports = new Set(options.ports ?? [53]);
    this.#timeout = options.queryTimeout ?? 5000;
    this.#decode = optional<DnsPacketModule>('dns-packet', 'DNS parsing').decode;
  }

  #isDns(flow: Flow): boolean {
    return this.#ports.has(flow.server.port) || this.#ports.has(flow.client.port);
  }

  datagram(flow: Flow, from: Side, payload: Uint8Array, time: number): void {
    if (!this.#isDns(flow)) return;
    this.#message(flow, 'udp', from, Buffer.from(payload), time);
  }

  end(flow: Flow): void {
    this.#expire(flow, Infinity);
  }

  data(stream: TcpStream, from: Side, data: Uint8Array, time: number): void {
    const flow = stream.flow;
    if (!flow || !this.#isDns(flow)) return;
    const key = `${stream.id} ${from}`;
    let buf = Buffer.concat([this.#partial.get(key) ?? Buffer.alloc(0), data]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const length = buf.readUInt16BE(0);
      this.#message(flow, 'tcp', from, buf.subarray(2, 2 + length), time);
      buf = buf.subarray(2 + length);
    }
    if (buf.length > 0 && buf.length <= MAX_TCP_MESSAGE) this.#partial.set(key, Buffer.from(buf));
    else this.#partial.delete(key);
  }

  hole(stream: TcpStream, from: Side): void {
    // The framing is lost: what was partial is dropped; the next message may not line up, and then will not decode.
    this.#partial.delete(`${stream.id} ${from}`);
  }

  close(stream: TcpStream): void {
    this.#partial.delete(`${stream.id} client`);
    this.#partial.delete(`${stream.id} server`);
    if (stream.flow) this.#expire(stream.flow, Infinity);
  }

  #message(flow: Flow, transport: 'udp' | 'tcp', from: Side, bytes: Buffer, time: number): void {
    let m: Decoded;
    try {
      m = this.#decode(bytes);
    } catch {
      this.stats.malformed++;
      return;
    }
    this.#expire(flow, time);
    const q = m.questions?.[0];
    const question = q ? { name: q.name ?? '', type: q.type ?? '', class: q.class ?? '' } : null;
    const key = `${m.id ?? 0} ${question ? `${question.name.toLowerCase()} ${question.type}` : ''}`;
    const list = this.#waiting.get(flow) ?? [];
    if (m.type === 'query') {
      this.stats.queries++;
      const exchange = newExchange(flow, transport, from === 'client', m.id ?? 0, question, time);
      list.push({ exchange, key });
      if (list.length > MAX_WAITING) this.#unanswered(list.shift()!.exchange);
      this.#waiting.set(flow, list);
      return;
    }
    this.stats.responses++;
    const i = list.findIndex((w) => w.key === key);
    const exchange =
      i >= 0
        ? list.splice(i, 1)[0]!.exchange
        : { ...newExchange(flow, transport, true, m.id ?? 0, question, null), unsolicited: true as const };
    exchange.rcode = m.rcode ?? null;
    exchange.answers = records(m.answers);
    exchange.authorities = records(m.authorities);
    exchange.truncated = m.flag_tc === true;
    exchange.time.response = time;
    exchange.latency = exchange.time.query === null ? null : time - exchange.time.query;
    this.#emit(exchange);
  }

  /** Reports the flow's queries older than the timeout as of `now`. */
  #expire(flow: Flow, now: number): void {
    const list = this.#waiting.get(flow);
    if (!list) return;
    while (list.length > 0 && now - list[0]!.exchange.time.query! >= this.#timeout) this.#unanswered(list.shift()!.exchange);
    if (list.length === 0) this.#waiting.delete(flow);
  }

  #unanswered(exchange: DnsExchange): void {
    exchange.unanswered = true;
    this.#emit(exchange);
  }

  #emit(exchange: DnsExchange): void {
    this.stats.exchanges++;
    this.#sink(exchange);
  }
}

/**
 * Every DNS query of `source` with its response (UDP and TCP), once answered, or once
 * it can be said it will not be (`unanswered`).
 */
export async function* dnsMessages(
  source: ConversationSource,
  options: DnsOptions & StreamOptions & DriveOptions = {},
): AsyncGenerator<DnsExchange> {
  const out: DnsExchange[] = [];
  const parsers = new DnsParsers((ex) => out.push(ex), options);
  // DNS needs no TLS plaintext.
  yield* drive(source, { ...options, tls: false }, new StreamTable(parsers, options, parsers), out);
}
