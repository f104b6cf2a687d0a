/**
 * `tapwire/conversations`: flows, TCP streams and the protocols on them, over any
 * packet source. The core (`tapwire`) never imports this folder.
 */
export { flows, FlowRecords } from './flows';
export { FlowTable, type FlowOptions, type FlowStats, type FlowHooks } from './flow-table';
export type { Flow, FlowEndpoint, FlowEnd, TcpInfo, TcpState } from './flow';
export { parseHello, type ClientHello } from './tls-hello';
export type { PacketSource } from './source';
export { tcpStreams, type StreamEvent } from './tcp-streams';
export {
  StreamTable,
  type TcpStream,
  type StreamEndpoint,
  type StreamHandler,
  type StreamOptions,
  type StreamStats,
  type Side,
} from './streams';
export type { ConversationSource, DriveOptions } from './drive';
export { httpExchanges, HttpParsers } from './http';
export type { HttpExchange, HttpMessage, HttpOptions, HttpStats } from './http-exchange';
export { dnsMessages, DnsParsers, type DnsExchange, type DnsRecord, type DnsOptions, type DnsStats } from './dns';
