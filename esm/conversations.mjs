// ES module entry of tapwire/conversations: the same single instance as the CommonJS one.
import conversations from '../dist/conversations/index.js';

export const { flows, FlowRecords, FlowTable, parseHello, tcpStreams, StreamTable, httpExchanges, HttpParsers, dnsMessages, DnsParsers } =
  conversations;
export default conversations;
