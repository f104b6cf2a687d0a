/**
 * Upper-layer PDUs (LINKTYPE_WIRESHARK_UPPER_PDU): a payload such as decrypted HTTP,
 * preceded by tags (big-endian type, length, value) that name the Wireshark dissector
 * for it and the addresses and ports it travelled between.
 */
import net from 'node:net';
import type { Direction } from '../batch';
import { InvalidOptionError } from '../errors';
import { pad4 } from './format';

export interface UpperPdu {
  /** When it was seen, nanoseconds since the epoch. */
  timestampNs: bigint;
  /** The Wireshark dissector for `data`: 'http', 'http2', 'dns', ... */
  protocol: string;
  /** IPv4 or IPv6 addresses (both of one family) and ports, when known. */
  srcAddr?: string;
  dstAddr?: string;
  srcPort?: number;
  dstPort?: number;
  /** What carried it (default 'tcp'); matters when ports are given. */
  transport?: 'tcp' | 'udp';
  /** Recorded in the packet's direction flags (default 'in'). */
  direction?: Direction;
  data: Uint8Array;
}

const TAG_END = 0;
const TAG_DISSECTOR_NAME = 12;
const TAG_IPV4_SRC = 20;
const TAG_IPV4_DST = 21;
const TAG_IPV6_SRC = 22;
const TAG_IPV6_DST = 23;
const TAG_PORT_TYPE = 24;
const TAG_SRC_PORT = 25;
const TAG_DST_PORT = 26;
const PORT_TYPE = { tcp: 2, udp: 3 } as const;

function tag(type: number, value: Buffer): Buffer {
  // Strings are padded with NULs to 4 bytes, counted in the length (as Wireshark writes them).
  const padded = Buffer.alloc(pad4(value.length));
  value.copy(padded);
  const head = Buffer.alloc(4);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(padded.length, 2);
  return Buffer.concat([head, padded]);
}

function u32be(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value, 0);
  return b;
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

function ipv6Bytes(address: string): Buffer {
  let text = address;
  const out = Buffer.alloc(16);
  // A trailing dotted quad (::ffff:1.2.3.4) is the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4Bytes(dotted[1]!);
    text = `${text.slice(0, dotted.index)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const front = groups(head);
  const back = groups(tail);
  front.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  back.forEach((g, i) => out.writeUInt16BE(g, 16 - (back.length - i) * 2));
  return out;
}

function address(name: string, value: string | undefined): { family: 4 | 6; bytes: Buffer } | undefined {
  if (value === undefined) return undefined;
  const family = typeof value === 'string' ? net.isIP(value) : 0;
  if (family === 4) return { family, bytes: ipv4Bytes(value) };
  if (family === 6) return { family, bytes: ipv6Bytes(value) };
  throw new InvalidOptionError(`upper PDU ${name} must be an IPv4 or IPv6 address; got ${JSON.stringify(value)}`);
}

function port(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new InvalidOptionError(`upper PDU ${name} must be a port number (0–65535); got ${String(value)}`);
  }
  return value;
}

/** The packet bytes of one upper-layer PDU: its tags, then its data. */
export function encodeUpperPdu(pdu: UpperPdu): Buffer {
  if (typeof pdu !== 'object' || pdu === null) throw new InvalidOptionError('writeUpperPdu() takes a PDU object');
  if (typeof pdu.timestampNs !== 'bigint' || pdu.timestampNs < 0n) {
    throw new InvalidOptionError('upper PDU timestampNs must be a non-negative bigint (nanoseconds since the epoch)');
  }
  if (typeof pdu.protocol !== 'string' || !/^[\w.-]+$/.test(pdu.protocol)) {
    throw new InvalidOptionError(
      `upper PDU protocol must name a Wireshark dissector (such as 'http'); got ${JSON.stringify(pdu.protocol)}`,
    );
  }
  if (!(pdu.data instanceof Uint8Array)) throw new InvalidOptionError('upper PDU data must be a Buffer or Uint8Array');
  if (pdu.direction !== undefined && pdu.direction !== 'in' && pdu.direction !== 'out') {
    throw new InvalidOptionError(`upper PDU direction must be 'in' or 'out'; got ${JSON.stringify(pdu.direction)}`);
  }
  const transport = pdu.transport ?? 'tcp';
  if (!(transport in PORT_TYPE))
    throw new InvalidOptionError(`upper PDU transport must be 'tcp' or 'udp'; got ${JSON.stringify(transport)}`);
  const src = address('srcAddr', pdu.srcAddr);
  const dst = address('dstAddr', pdu.dstAddr);
  if (src && dst && src.family !== dst.family) {
    throw new InvalidOptionError('upper PDU srcAddr and dstAddr must be of one address family');
  }
  const srcPort = port('srcPort', pdu.srcPort);
  const dstPort = port('dstPort', pdu.dstPort);

  const tags = [tag(TAG_DISSECTOR_NAME, Buffer.from(pdu.protocol))];
  if (src) tags.push(tag(src.family === 4 ? TAG_IPV4_SRC : TAG_IPV6_SRC, src.bytes));
  if (dst) tags.push(tag(dst.family === 4 ? TAG_IPV4_DST : TAG_IPV6_DST, dst.bytes));
  if (srcPort !== undefined || dstPort !== undefined) tags.push(tag(TAG_PORT_TYPE, u32be(PORT_TYPE[transport])));
  if (srcPort !== undefined) tags.push(tag(TAG_SRC_PORT, u32be(srcPort)));
  if (dstPort !== undefined) tags.push(tag(TAG_DST_PORT, u32be(dstPort)));
  tags.push(tag(TAG_END, Buffer.alloc(0)));
  return Buffer.concat([...tags, pdu.data]);
}
