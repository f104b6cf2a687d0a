/**
 * FlowTable: packets into flow records, both directions joined, keyed by protocol,
 * addresses, ports, outer VLAN and interface. Time is the capture's clock (packet
 * timestamps), so a replayed file gives the same records as the live capture did.
 *
 * Lookups hash the key straight from the packet's bytes (a HeaderView) and compare
 * bytes in place: no key string or object per packet. A flow ends on FIN from both
 * ends or RST (after `closeTimeout`, to absorb the last ACKs), after `idleTimeout`
 * without packets, after `activeTimeout` since its first packet (the next packet
 * starts a new record, as IPFIX exporters do), on eviction when `maxFlows` are open
 * (the oldest goes, counted), or when the source ends.
 */
import type { Batch } from '../batch';
import { HeaderView, IPPROTO, TCP } from '../headers/view';
import type { Flow, FlowEnd, FlowEndpoint, TcpInfo } from './flow';
import { ClientHelloReader } from './tls-hello';

export interface FlowOptions {
  /** Flows open at once before the oldest is evicted (counted in stats). Default 65536. */
  maxFlows?: number;
  /** ms without a packet before a flow ends. Default 60000. */
  idleTimeout?: number;
  /** ms after its first packet before a record ends (a new one goes on). Default 1800000. */
  activeTimeout?: number;
  /** ms a closed TCP flow (FIN both ways, or RST) is kept for its last packets. Default 2000. */
  closeTimeout?: number;
}

export interface FlowStats {
  packets: number;
  /** Flow records made. */
  flows: number;
  /** Flows open now. */
  open: number;
  /** Flows ended because maxFlows were open. */
  evicted: number;
  /** Packets not in any flow: no IP header, a later fragment (no ports), or a cut-short transport header. */
  skipped: { notIp: number; fragments: number; truncated: number };
}

/** @internal Per-direction sequence tracking and the record being filled. */
export class FlowState {
  readonly flow: Flow;
  readonly protocolNumber: number;
  readonly clientAddress: Uint8Array;
  readonly serverAddress: Uint8Array;
  /** Next expected sequence number per direction (client→server, server→client); -1 unknown. */
  readonly nextSeq = [-1, -1];
  closedAt = -1;
  /** The next flow in the same hash bucket. */
  next: FlowState | null = null;
  hash = 0;
  /** The ClientHello being read (null before the client's first data), and the sequence number its next bytes need. */
  hello: ClientHelloReader | null = null;
  helloSeq = -1;
  helloDone = false;
  /** For consumers (streams, protocols) that keep state per flow. */
  user: unknown = undefined;

  constructor(flow: Flow, protocolNumber: number, clientAddress: Uint8Array, serverAddress: Uint8Array) {
    this.flow = flow;
    this.protocolNumber = protocolNumber;
    this.clientAddress = clientAddress;
    this.serverAddress = serverAddress;
  }
}

export interface FlowHooks {
  /** Each packet of a flow, after the record counted it; `fromClient` says its direction. */
  packet?: (state: FlowState, fromClient: boolean, view: HeaderView, time: number, batch: Batch, index: number) => void;
  /** A record ended (its `end` says why). */
  end?: (flow: Flow, state: FlowState) => void;
}

const PROTOCOL_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };
const SWEEP_INTERVAL_MS = 1000;
const WELL_KNOWN = 1024;

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x9e3779b1);
  return (h ^ (h >>> 15)) | 0;
}

function endpoint(address: string, port: number): FlowEndpoint {
  return { address, port, packets: 0, bytes: 0, payloadBytes: 0, retransmissions: 0, gaps: 0, gapBytes: 0, process: null };
}

function sameBytes(a: Uint8Array, b: Uint8Array, at: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[at + i]) return false;
  return true;
}

export class FlowTable {
  readonly #options: Required<FlowOptions>;
  readonly #hooks: FlowHooks;
  readonly #buckets = new Map<number, FlowState>();
  /** Open flows in order of creation: the first is the one eviction takes. */
  readonly #open = new Set<FlowState>();
  readonly #view = new HeaderView();
  #ids = 0;
  #now = 0;
  #lastSweep = 0;
  readonly stats: FlowStats = { packets: 0, flows: 0, open: 0, evicted: 0, skipped: { notIp: 0, fragments: 0, truncated: 0 } };

  constructor(options: FlowOptions = {}, hooks: FlowHooks = {}) {
    this.#options = {
      maxFlows: options.maxFlows ?? 65536,
      idleTimeout: options.idleTimeout ?? 60_000,
      activeTimeout: options.activeTimeout ?? 1_800_000,
      closeTimeout: options.closeTimeout ?? 2_000,
    };
    this.#hooks = hooks;
  }

  /** Adds every packet of `batch`. */
  addBatch(batch: Batch): void {
    for (let i = 0; i < batch.length; i++) this.add(batch, i);
  }

  /** Adds packet `i` of `batch`; returns its flow, or null when it belongs to none. */
  add(batch: Batch, i: number): FlowState | null {
    const h = batch.headersAt(i, this.#view);
    const time = batch.timestampAt(i);
    this.stats.packets++;
    if (time > this.#now) this.#now = time;
    if (this.#now - this.#lastSweep >= SWEEP_INTERVAL_MS) this.expire(this.#now);
    if (h.ipVersion === 0) {
      this.stats.skipped.notIp++;
      return null;
    }
    if (h.fragmentOffset !== 0) {
      this.stats.skipped.fragments++;
      return null;
    }
    const protocol = h.protocol;
    const ported = protocol === IPPROTO.TCP || protocol === IPPROTO.UDP;
    if (ported && h.transportOffset < 0) {
      this.stats.skipped.truncated++;
      return null;
    }
    const sport = ported ? h.srcPort : 0;
    const dport = ported ? h.dstPort : 0;
    const bytes = h.bytes;
    const src = h.srcOffset;
    const dst = h.dstOffset;
    const n = h.addressLength;
    let hs = sport;
    let hd = dport;
    for (let k = 0; k < n; k += 4) {
      hs = mix(hs, (bytes[src + k]! << 24) | (bytes[src + k + 1]! << 16) | (bytes[src + k + 2]! << 8) | bytes[src + k + 3]!);
      hd = mix(hd, (bytes[dst + k]! << 24) | (bytes[dst + k + 1]! << 16) | (bytes[dst + k + 2]! << 8) | bytes[dst + k + 3]!);
    }
    const vlan = h.vlan;
    const ifindex = batch.interfaceIndexAt(i);
    // Symmetric in the two ends, so both directions land in one bucket.
    const hash = mix(mix(mix(hs ^ hd, protocol), vlan), ifindex);
    let state = this.#buckets.get(hash) ?? null;
    let fromClient = true;
    for (; state !== null; state = state.next) {
      const f = state.flow;
      if (state.protocolNumber !== protocol || f.vlan !== vlan || f.interfaceIndex !== ifindex || state.clientAddress.length !== n)
        continue;
      if (
        f.client.port === sport &&
        f.server.port === dport &&
        sameBytes(state.clientAddress, bytes, src) &&
        sameBytes(state.serverAddress, bytes, dst)
      ) {
        fromClient = true;
        break;
      }
      if (
        f.client.port === dport &&
        f.server.port === sport &&
        sameBytes(state.clientAddress, bytes, dst) &&
        sameBytes(state.serverAddress, bytes, src)
      ) {
        fromClient = false;
        break;
      }
    }
    const flags = protocol === IPPROTO.TCP ? h.tcpFlags : 0;
    const syn = (flags & (TCP.SYN | TCP.ACK)) === TCP.SYN;
    // A new SYN on a closed flow is a new connection on the same ports; a packet past
    // the active timeout starts the flow's next record.
    if (state !== null && syn && state.closedAt >= 0) {
      this.#end(state, state.flow.tcp!.reset ? 'rst' : 'fin');
      state = null;
    } else if (state !== null && time - state.flow.first >= this.#options.activeTimeout) {
      this.#end(state, 'active');
      state = null;
    }
    if (state === null) {
      // Who opened it: a SYN's sender, a SYN-ACK's receiver, else the sender unless
      // only the receiver has a well-known port.
      const synAck = (flags & (TCP.SYN | TCP.ACK)) === (TCP.SYN | TCP.ACK);
      const reversed = synAck || (!syn && ported && sport < WELL_KNOWN && dport >= WELL_KNOWN);
      state = this.#create(h, hash, protocol, vlan, ifindex, time, reversed);
      fromClient = !reversed;
    }
    const f = state.flow;
    f.last = time;
    const end = fromClient ? f.client : f.server;
    end.packets++;
    end.bytes += batch.lengthAt(i);
    const size = h.payloadSize;
    end.payloadBytes += size;
    if (batch.directionAt(i) === 'out') {
      end.process ??= batch.processAt(i);
    } else {
      const other = fromClient ? f.server : f.client;
      other.process ??= batch.processAt(i);
      end.process ??= batch.peerProcessAt(i);
    }
    if (protocol === IPPROTO.TCP) this.#tcp(state, fromClient, h, flags, size, time);
    this.#hooks.packet?.(state, fromClient, h, time, batch, i);
    return state;
  }

  #create(h: HeaderView, hash: number, protocol: number, vlan: number, ifindex: number, time: number, reversed: boolean): FlowState {
    if (this.#open.size >= this.#options.maxFlows) {
      const oldest = this.#open.values().next().value;
      if (oldest) {
        this.stats.evicted++;
        this.#end(oldest, 'evicted');
      }
    }
    const n = h.addressLength;
    const src = h.bytes.slice(h.srcOffset, h.srcOffset + n);
    const dst = h.bytes.slice(h.dstOffset, h.dstOffset + n);
    const ported = h.srcPort >= 0;
    const a = endpoint(h.srcAddress!, ported ? h.srcPort : 0);
    const b = endpoint(h.dstAddress!, ported ? h.dstPort : 0);
    const flow: Flow = {
      id: ++this.#ids,
      protocol: PROTOCOL_NAMES[protocol] ?? `ip-proto-${protocol}`,
      ipVersion: h.ipVersion as 4 | 6,
      client: reversed ? b : a,
      server: reversed ? a : b,
      vlan,
      interfaceIndex: ifindex,
      first: time,
      last: time,
      tcp: protocol === IPPROTO.TCP ? { state: 'mid-stream', handshake: false, clientFin: false, serverFin: false, reset: false } : null,
      tls: null,
      end: 'end',
    };
    const state = new FlowState(flow, protocol, reversed ? dst : src, reversed ? src : dst);
    state.hash = hash;
    state.next = this.#buckets.get(hash) ?? null;
    this.#buckets.set(hash, state);
    this.#open.add(state);
    this.stats.flows++;
    this.stats.open = this.#open.size;
    return state;
  }

  #tcp(state: FlowState, fromClient: boolean, h: HeaderView, flags: number, size: number, time: number): void {
    const tcp = state.flow.tcp as TcpInfo;
    const end = fromClient ? state.flow.client : state.flow.server;
    const dir = fromClient ? 0 : 1;
    const seq = h.seq;
    const syn = (flags & TCP.SYN) !== 0;
    const fin = (flags & TCP.FIN) !== 0;
    if (syn && !(flags & TCP.ACK) && fromClient) tcp.state = tcp.state === 'mid-stream' ? 'syn-sent' : tcp.state;
    else if (syn && flags & TCP.ACK && !fromClient && tcp.state === 'syn-sent') tcp.state = 'syn-received';
    else if (flags & TCP.ACK && fromClient && tcp.state === 'syn-received') {
      tcp.state = 'established';
      tcp.handshake = true;
    }
    if (flags & TCP.RST) {
      tcp.reset = true;
      tcp.state = 'reset';
      if (state.closedAt < 0) state.closedAt = time;
    }
    if (fin) {
      if (fromClient) tcp.clientFin = true;
      else tcp.serverFin = true;
      if (!tcp.reset) tcp.state = tcp.clientFin && tcp.serverFin ? 'closed' : 'closing';
      if (tcp.clientFin && tcp.serverFin && state.closedAt < 0) state.closedAt = time;
    }
    // Sequence space: SYN and FIN take one number each.
    const next = state.nextSeq[dir]!;
    const after = (seq + size + (syn ? 1 : 0) + (fin ? 1 : 0)) >>> 0;
    if (next < 0 || syn) {
      state.nextSeq[dir] = after;
    } else {
      const ahead = (seq - next) | 0;
      // A keep-alive resends the one byte before the window with no news: not a retransmission.
      const keepAlive = size <= 1 && ahead === -1;
      // Any segment but a reset past the next number shows one missed, a bare ACK or FIN too
      // (the capture lost the last data before it), as tshark marks "previous segment not captured".
      if (ahead > 0 && !(flags & TCP.RST)) {
        end.gaps++;
        end.gapBytes += ahead;
      } else if (ahead < 0 && size > 0 && !keepAlive) end.retransmissions++;
      if (((after - next) | 0) > 0) state.nextSeq[dir] = after;
    }
    if (fromClient && size > 0 && !state.helloDone) this.#hello(state, h, seq, size);
  }

  /** Feeds the client's first bytes, in order, to the ClientHello reader until it answers. */
  #hello(state: FlowState, h: HeaderView, seq: number, size: number): void {
    if (state.hello !== null && seq !== state.helloSeq) return;
    // Cut by the snapshot length: the hello cannot be read.
    if (h.payloadLength < size) {
      state.helloDone = true;
      return;
    }
    state.hello ??= new ClientHelloReader();
    state.helloSeq = (seq + size) >>> 0;
    const result = state.hello.push(h.payload());
    if (result === 'more') return;
    state.flow.tls = result;
    state.hello = null;
    state.helloDone = true;
  }

  /** Ends flows idle, too long active, or closed, as of capture time `now` (ms). */
  expire(now: number): void {
    this.#lastSweep = now;
    const { idleTimeout, activeTimeout, closeTimeout } = this.#options;
    for (const state of this.#open) {
      const f = state.flow;
      if (state.closedAt >= 0 && now - state.closedAt >= closeTimeout) this.#end(state, f.tcp!.reset ? 'rst' : 'fin');
      else if (now - f.last >= idleTimeout) this.#end(state, 'idle');
      else if (now - f.first >= activeTimeout) this.#end(state, 'active');
    }
  }

  /** Ends every open flow ('end', or 'fin'/'rst' for closed TCP): the source ended. */
  flush(): void {
    for (const state of this.#open) this.#end(state, state.closedAt >= 0 ? (state.flow.tcp!.reset ? 'rst' : 'fin') : 'end');
  }

  /** Latest capture time seen, ms. */
  get now(): number {
    return this.#now;
  }

  #end(state: FlowState, why: FlowEnd): void {
    if (!this.#open.delete(state)) return;
    this.stats.open = this.#open.size;
    state.flow.end = why;
    let head = this.#buckets.get(state.hash) ?? null;
    if (head === state) {
      if (state.next) this.#buckets.set(state.hash, state.next);
      else this.#buckets.delete(state.hash);
    } else {
      while (head !== null && head.next !== state) head = head.next;
      if (head) head.next = state.next;
    }
    state.next = null;
    this.#hooks.end?.(state.flow, state);
  }
}
