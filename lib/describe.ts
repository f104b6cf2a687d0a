/**
 * One line per packet, the way tcpdump's quiet output reads (`IP a.1 > b.2: UDP,
 * length 3`): Ethernet, raw IP, IPv4, IPv6, TCP, UDP, ICMP, ICMPv6 and ARP; anything
 * else as its type and leading bytes in hex. Public (`describePacket`), so that the
 * command's lines and a program's are the same words from one decoder.
 */

import { ipv4Text as ipv4, ipv6Text as ipv6, macText as mac } from './headers/address';

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const HEX_BYTES = 16;

function hex(data: Buffer, from: number): string {
  return data.subarray(from, from + HEX_BYTES).toString('hex');
}

const ICMP_TYPES: Record<number, string> = { 0: 'echo reply', 3: 'unreachable', 8: 'echo request', 11: 'time exceeded in-transit' };
const ICMP6_TYPES: Record<number, string> = {
  1: 'destination unreachable',
  3: 'time exceeded in-transit',
  128: 'echo request',
  129: 'echo reply',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
};
const ICMP_ECHO = new Set([0, 8, 128, 129]);
const ICMP_UNREACHABLE = 3;
const ICMP6_UNREACHABLE = 1;
const PORT_UNREACHABLE = { 4: 3, 6: 4 } as const;
const TRANSPORT_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp' };

/** The datagram an ICMP error quotes: "dst udp port 53", when it is TCP or UDP. */
function quoted(data: Buffer, at: number, v6: boolean): string | null {
  if (v6) {
    if (data.length < at + 44) return null;
    const name = TRANSPORT_NAMES[data[at + 6]!];
    return name ? `${ipv6(data, at + 24)} ${name} port ${data.readUInt16BE(at + 42)}` : null;
  }
  if (data.length < at + 20) return null;
  const headerLength = (data[at]! & 0x0f) * 4;
  const name = TRANSPORT_NAMES[data[at + 9]!];
  if (!name || data.length < at + headerLength + 4) return null;
  return `${ipv4(data, at + 16)} ${name} port ${data.readUInt16BE(at + headerLength + 2)}`;
}

/** ICMP or ICMPv6 as tcpdump's quiet output words it, for the common types. */
function icmp(data: Buffer, at: number, length: number, v6: boolean): string {
  const type = data[at]!;
  const code = data[at + 1]!;
  const name = (v6 ? ICMP6_TYPES : ICMP_TYPES)[type] ?? `type ${type}`;
  if (ICMP_ECHO.has(type) && length >= 8) {
    return `${v6 ? 'ICMP6, ' : 'ICMP '}${name}, id ${data.readUInt16BE(at + 4)}, seq ${data.readUInt16BE(at + 6)}, length ${length}`;
  }
  const portUnreachable = type === (v6 ? ICMP6_UNREACHABLE : ICMP_UNREACHABLE) && code === PORT_UNREACHABLE[v6 ? 6 : 4];
  const datagram = portUnreachable ? quoted(data, at + 8, v6) : null;
  if (datagram !== null) {
    return v6 ? `ICMP6, ${name}, unreachable port, ${datagram}, length ${length}` : `ICMP ${datagram} unreachable, length ${length}`;
  }
  return `${v6 ? 'ICMP6, ' : 'ICMP '}${name}, length ${length}`;
}

/** The transport part: "a.p > b.p: UDP, length n" and the like. */
function transport(data: Buffer, at: number, end: number, protocol: number, src: string, dst: string, v6: boolean): string {
  const length = end - at;
  if ((protocol === 6 && length >= 20) || (protocol === 17 && length >= 8)) {
    const ports = `${src}.${data.readUInt16BE(at)} > ${dst}.${data.readUInt16BE(at + 2)}`;
    if (protocol === 17) return `${ports}: UDP, length ${data.readUInt16BE(at + 4) - 8}`;
    return `${ports}: tcp ${length - (data[at + 12]! >> 4) * 4}`;
  }
  if (protocol === (v6 ? 58 : 1) && length >= 4) return `${src} > ${dst}: ${icmp(data, at, length, v6)}`;
  return `${src} > ${dst}: ip-proto-${protocol} ${length}`;
}

const IPV6_EXTENSIONS = new Set([0, 43, 60]);
const IPV6_FRAGMENT = 44;

function ip(data: Buffer, at: number): string | null {
  const version = data[at]! >> 4;
  if (version === 4 && data.length >= at + 20) {
    const headerLength = (data[at]! & 0x0f) * 4;
    const end = Math.min(data.length, at + data.readUInt16BE(at + 2));
    const src = ipv4(data, at + 12);
    const dst = ipv4(data, at + 16);
    if (data.readUInt16BE(at + 6) & 0x1fff) return `IP ${src} > ${dst}: ip-proto-${data[at + 9]} (fragment)`;
    return `IP ${transport(data, at + headerLength, end, data[at + 9]!, src, dst, false)}`;
  }
  if (version === 6 && data.length >= at + 40) {
    const end = Math.min(data.length, at + 40 + data.readUInt16BE(at + 4));
    const src = ipv6(data, at + 8);
    const dst = ipv6(data, at + 24);
    let next = data[at + 6]!;
    let pos = at + 40;
    while (IPV6_EXTENSIONS.has(next) && pos + 8 <= end) {
      next = data[pos]!;
      pos += (data[pos + 1]! + 1) * 8;
    }
    if (next === IPV6_FRAGMENT) return `IP6 ${src} > ${dst}: frag`;
    return `IP6 ${transport(data, pos, end, next, src, dst, true)}`;
  }
  return null;
}

function arp(data: Buffer, at: number): string | null {
  // Ethernet/IPv4 ARP only: hardware length 6, protocol length 4.
  if (data.length < at + 28 || data[at + 4] !== 6 || data[at + 5] !== 4) return null;
  const op = data.readUInt16BE(at + 6);
  const sender = ipv4(data, at + 14);
  const target = ipv4(data, at + 24);
  if (op === 1) return `ARP, Request who-has ${target} tell ${sender}, length ${data.length - at}`;
  if (op === 2) return `ARP, Reply ${sender} is-at ${mac(data, at + 8)}, length ${data.length - at}`;
  return `ARP, op ${op}, length ${data.length - at}`;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_IPV6 = 0x86dd;

function ethernet(data: Buffer, length: number): string {
  let at = 12;
  let vlan = '';
  let type = data.length >= 14 ? data.readUInt16BE(12) : -1;
  if (type === ETHERTYPE_VLAN && data.length >= 18) {
    vlan = `vlan ${data.readUInt16BE(14) & 0x0fff}, `;
    type = data.readUInt16BE(16);
    at = 16;
  }
  at += 2;
  let line: string | null = null;
  if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) line = ip(data, at);
  else if (type === ETHERTYPE_ARP) line = arp(data, at);
  if (line !== null) return vlan + line;
  if (type < 0) return `truncated frame, length ${length}: ${hex(data, 0)}`;
  return `${vlan}ethertype 0x${type.toString(16).padStart(4, '0')}, length ${length}: ${hex(data, at)}`;
}

/**
 * What a packet is, from its link-layer header on: `describePacket(pkt.data,
 * pkt.linkType, pkt.length)`, or the batch's accessors in a hot loop.
 */
export function describePacket(data: Buffer, linkType: number | null, length: number): string {
  if (linkType === LINKTYPE_ETHERNET) return ethernet(data, length);
  if (linkType === LINKTYPE_RAW && data.length > 0) {
    const line = ip(data, 0);
    if (line !== null) return line;
  }
  return `link-type ${linkType ?? 'unknown'}, length ${length}: ${hex(data, 0)}`;
}
