/** What a flow record holds (see flow-table.ts for how packets fill it). */
import type { PacketProcess } from '../attribution/types';
import type { ClientHello } from './tls-hello';

export interface FlowEndpoint {
  address: string;
  /** TCP or UDP port; 0 for other protocols. */
  port: number;
  /** Packets and wire bytes (link header included, as tcpdump and tshark count) this end sent. */
  packets: number;
  bytes: number;
  /** Transport payload bytes it sent, by the IP length (including any cut by the snapshot length). */
  payloadBytes: number;
  /** TCP: segments carrying data already sent (at or below the highest sequence seen, keep-alives aside). */
  retransmissions: number;
  /** TCP: times data began past the highest sequence seen, and the bytes skipped (not captured, or reordered). */
  gaps: number;
  gapBytes: number;
  /** The process at this end, where the capture attributes packets and this host is that end. */
  process: PacketProcess | null;
}

export type FlowEnd = 'fin' | 'rst' | 'idle' | 'active' | 'evicted' | 'end';

export type TcpState = 'syn-sent' | 'syn-received' | 'established' | 'mid-stream' | 'closing' | 'closed' | 'reset';

export interface TcpInfo {
  state: TcpState;
  /** SYN, SYN-ACK and the client's ACK all seen. */
  handshake: boolean;
  /** FIN seen from each end; RST from either. */
  clientFin: boolean;
  serverFin: boolean;
  reset: boolean;
}

export interface Flow {
  /** Unique within one table (a flows() iteration), in order of first packet. */
  id: number;
  /** 'tcp', 'udp', 'icmp', 'icmpv6', or 'ip-proto-N'. */
  protocol: string;
  ipVersion: 4 | 6;
  /**
   * The end that opened the flow: a SYN's sender (a SYN-ACK's receiver), else the first
   * packet's sender unless only the other end uses a port under 1024.
   */
  client: FlowEndpoint;
  server: FlowEndpoint;
  /** Outer VLAN id, or -1. */
  vlan: number;
  /** Interface index the packets were captured on (a file's interface number). */
  interfaceIndex: number;
  /** Capture times of the first and last packet, ms since the epoch. */
  first: number;
  last: number;
  /** TCP only. */
  tcp: TcpInfo | null;
  /** The client's TLS ClientHello, where the flow carried one. */
  tls: ClientHello | null;
  /** Why the record ended: FIN both ways, RST, idle or active timeout, evicted (maxFlows), or the source ended. */
  end: FlowEnd;
}
