/**
 * TCP streams: each TCP flow's two directions in order (reassembly.ts), and TLS
 * plaintext (the TLS plugin's events, one stream per TLS connection) in the same shape,
 * so protocol parsers read either the same way.
 */
import type { PacketProcess } from '../attribution/types';
import type { TlsEvent } from '../plugins/tls';
import type { Flow } from './flow';
import { FlowTable, type FlowOptions, type FlowState } from './flow-table';
import { Reassembler, type Budget, type ReassemblySink } from './reassembly';
import { IPPROTO, TCP } from '../headers/view';

export interface StreamEndpoint {
  address: string | null;
  port: number | null;
  process: PacketProcess | null;
}

export interface TcpStream {
  /** `tcp:N` (the flow's id) or `tls:PID:SSL` (the TLS plugin's stream). */
  id: string;
  kind: 'tcp' | 'tls';
  client: StreamEndpoint;
  server: StreamEndpoint;
  /** The TCP flow (kind 'tcp'), whose record fills in as packets come. */
  flow: Flow | null;
  /** The process whose TLS calls these are (kind 'tls'), its library, and which end it is. */
  tls: { pid: number; comm: string; library: string; side: Side } | null;
}

/** Who sent the bytes of an event: the stream's client or its server. */
export type Side = 'client' | 'server';

export interface StreamHandler {
  /** A stream's first bytes are about to come. */
  open?(stream: TcpStream, time: number): void;
  data(stream: TcpStream, from: Side, data: Uint8Array, time: number): void;
  /** `size` bytes from `from` are missing (-1: unknown, a TLS call cut short) before what follows. */
  hole(stream: TcpStream, from: Side, size: number, time: number): void;
  /** Both directions ended, or the stream was given up (flow ended). */
  close(stream: TcpStream, time: number): void;
}

/** UDP payloads, for protocols on datagrams (DNS). */
export interface DatagramHandler {
  datagram(flow: Flow, from: Side, payload: Uint8Array, time: number): void;
  end(flow: Flow): void;
}

export interface StreamOptions extends FlowOptions {
  /** Bytes one direction may hold waiting for a hole to fill. Default 1 MiB. */
  maxBufferedPerStream?: number;
  /** Bytes all streams together may hold waiting. Default 64 MiB. */
  maxBuffered?: number;
}

export interface StreamStats {
  streams: number;
  bytes: number;
  holes: number;
  holeBytes: number;
  /** Segments dropped because the waiting budget was full. */
  droppedSegments: number;
  droppedBytes: number;
  /** Bytes waiting now. */
  buffered: number;
}

const MiB = 1024 * 1024;

class Direction implements ReassemblySink {
  readonly reassembler: Reassembler;
  readonly #owner: TcpStreamState;
  readonly #from: Side;

  constructor(owner: TcpStreamState, from: Side, budget: Budget, limit: number) {
    this.#owner = owner;
    this.#from = from;
    this.reassembler = new Reassembler(this, budget, limit);
  }

  data(bytes: Uint8Array, time: number): void {
    this.#owner.opened(time);
    this.#owner.table.stats.bytes += bytes.length;
    this.#owner.table.handler.data(this.#owner.stream, this.#from, bytes, time);
  }

  hole(size: number, time: number): void {
    this.#owner.opened(time);
    this.#owner.table.stats.holes++;
    this.#owner.table.stats.holeBytes += size;
    this.#owner.table.handler.hole(this.#owner.stream, this.#from, size, time);
  }

  end(time: number): void {
    this.#owner.directionEnded(time);
  }
}

class TcpStreamState {
  readonly stream: TcpStream;
  readonly table: StreamTable;
  readonly client: Direction;
  readonly server: Direction;
  #open = false;
  #closed = false;

  constructor(table: StreamTable, stream: TcpStream, budget: Budget, limit: number) {
    this.table = table;
    this.stream = stream;
    this.client = new Direction(this, 'client', budget, limit);
    this.server = new Direction(this, 'server', budget, limit);
  }

  opened(time: number): void {
    if (this.#open) return;
    this.#open = true;
    this.table.stats.streams++;
    this.table.handler.open?.(this.stream, time);
  }

  directionEnded(time: number): void {
    if (this.client.reassembler.ended && this.server.reassembler.ended) this.close(time);
  }

  close(time: number): void {
    if (this.#closed) return;
    this.#closed = true;
    this.client.reassembler.flush(time);
    this.server.reassembler.flush(time);
    if (this.#open) this.table.handler.close(this.stream, time);
  }
}

/** Streams of TCP flows and of TLS plaintext, delivered to one handler. */
export class StreamTable {
  readonly handler: StreamHandler;
  readonly flows: FlowTable;
  readonly stats: StreamStats = { streams: 0, bytes: 0, holes: 0, holeBytes: 0, droppedSegments: 0, droppedBytes: 0, buffered: 0 };
  readonly #budget: Budget;
  readonly #limit: number;
  readonly #tls = new Map<string, { state: TcpStreamState; last: number; writerIsClient: boolean }>();

  /**
   * `datagrams`, where given, sees every UDP packet's payload (copied only if it keeps
   * it) and each UDP flow's end.
   */
  constructor(handler: StreamHandler, options: StreamOptions = {}, datagrams?: DatagramHandler) {
    this.handler = handler;
    this.#limit = options.maxBufferedPerStream ?? MiB;
    this.#budget = { held: 0, limit: options.maxBuffered ?? 64 * MiB, droppedSegments: 0, droppedBytes: 0 };
    this.flows = new FlowTable(options, {
      packet: (state, fromClient, h) => {
        if (state.protocolNumber === IPPROTO.UDP)
          return datagrams?.datagram(state.flow, fromClient ? 'client' : 'server', h.payload(), state.flow.last);
        if (state.protocolNumber !== IPPROTO.TCP) return;
        const s = (state.user ??= this.#streamOf(state)) as TcpStreamState;
        const flags = h.tcpFlags;
        const sender = fromClient ? s.client : s.server;
        const receiver = fromClient ? s.server : s.client;
        // What the snapshot length cut off is a hole, not data.
        const payload = h.payload();
        sender.reassembler.segment(h.seq, (flags & TCP.SYN) !== 0, (flags & TCP.FIN) !== 0, payload, state.flow.last);
        const cut = h.payloadSize - payload.length;
        if (cut > 0)
          sender.reassembler.acknowledged((h.seq + payload.length + cut + ((flags & TCP.SYN) !== 0 ? 1 : 0)) >>> 0, state.flow.last);
        if (flags & TCP.ACK) receiver.reassembler.acknowledged(h.ack, state.flow.last);
        if (flags & TCP.RST) s.close(state.flow.last);
        this.#syncStats();
      },
      end: (flow, state) => {
        if (state.protocolNumber === IPPROTO.UDP) datagrams?.end(flow);
        const s = state.user as TcpStreamState | undefined;
        s?.close(flow.last);
        this.#syncStats();
      },
    });
  }

  #streamOf(state: FlowState): TcpStreamState {
    const f = state.flow;
    const stream: TcpStream = {
      id: `tcp:${f.id}`,
      kind: 'tcp',
      // The flow's own ends: their process fills in as the flow's packets name it.
      client: f.client,
      server: f.server,
      flow: f,
      tls: null,
    };
    return new TcpStreamState(this, stream, this.#budget, this.#limit);
  }

  #syncStats(): void {
    this.stats.buffered = this.#budget.held;
    this.stats.droppedSegments = this.#budget.droppedSegments;
    this.stats.droppedBytes = this.#budget.droppedBytes;
  }

  /**
   * One TLS plaintext call. The process that writes first is taken as the client (HTTP
   * clients speak first); a call cut short is followed by a hole of unknown size.
   */
  tls(ev: TlsEvent): void {
    let entry = this.#tls.get(ev.stream);
    if (!entry) {
      const isClient = ev.direction === 'write';
      const c = ev.connection;
      const here: StreamEndpoint = { address: c?.local.address ?? null, port: c?.local.port ?? null, process: null };
      const there: StreamEndpoint = { address: c?.remote.address ?? null, port: c?.remote.port ?? null, process: null };
      const stream: TcpStream = {
        id: `tls:${ev.stream}`,
        kind: 'tls',
        client: isClient ? here : there,
        server: isClient ? there : here,
        flow: null,
        tls: { pid: ev.pid, comm: ev.comm, library: ev.library, side: isClient ? 'client' : 'server' },
      };
      entry = { state: new TcpStreamState(this, stream, this.#budget, this.#limit), last: ev.timestamp, writerIsClient: isClient };
      this.#tls.set(ev.stream, entry);
    }
    entry.last = ev.timestamp;
    const s = entry.state;
    const side: Side = (ev.direction === 'write') === entry.writerIsClient ? 'client' : 'server';
    s.opened(ev.timestamp);
    if (ev.data.length > 0) {
      this.stats.bytes += ev.data.length;
      this.handler.data(s.stream, side, ev.data, ev.timestamp);
    }
    if (ev.truncated) {
      this.stats.holes++;
      this.handler.hole(s.stream, side, -1, ev.timestamp);
    }
  }

  /** Ends TLS streams idle for `idleTimeout` ms as of `now` (their connections close unseen). */
  expireTls(now: number, idleTimeout: number): void {
    for (const [key, entry] of this.#tls) {
      if (now - entry.last >= idleTimeout) {
        this.#tls.delete(key);
        entry.state.close(now);
      }
    }
  }

  /** The source ended: every flow and TLS stream closes. */
  flush(): void {
    this.flows.flush();
    for (const entry of this.#tls.values()) entry.state.close(entry.last);
    this.#tls.clear();
    this.#syncStats();
  }
}
