/**
 * HeaderView: the link, network and transport headers of one packet, read in place
 * from whatever memory holds it (a batch, a file, a Buffer): `read(bytes, offset,
 * length, linkType)` finds where each header starts and every getter reads its field
 * from those bytes when asked. Nothing is copied and nothing is allocated unless a
 * string is asked for, so one view can be reused for every packet of a hot loop.
 *
 * A header that is not all there (truncated by the snapshot length) or that does not
 * make sense (an IPv4 header length under 20, a TCP data offset past the capture) is
 * absent: its getters return -1, null or false. Nothing here throws on any input.
 */
import { ipv4Text, ipv6Text, macText } from './address';

/** pcap LINKTYPE_* values read here. */
export const LINKTYPE = {
  NULL: 0, // BSD loopback: a 4-byte address family in the writer's byte order
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108, // OpenBSD loopback: the family big-endian
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const ETHERTYPE = { IPV4: 0x0800, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8, QINQ_OLD: 0x9100, IPV6: 0x86dd } as const;
export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;
/** TCP flag bits of `tcpFlags`. */
export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

const EMPTY = new Uint8Array(0);
const MAX_VLAN_TAGS = 4;
const MAX_IPV6_EXTENSIONS = 16;
// BSD loopback address families: AF_INET everywhere; AF_INET6 differs by system.
const AF_INET = 2;
const AF_INET6 = new Set([10, 24, 28, 30]);

export class HeaderView {
  #bytes: Uint8Array = EMPTY;
  #end = 0;
  #linkType = -1;
  #link = -1;
  #ethernet = false;
  #linkIfindex = -1;
  #vlans = 0;
  #vlan0 = -1;
  #vlan1 = -1;
  #etherType = -1;
  #net = -1;
  #netEnd = 0;
  #version = 0;
  #arp = -1;
  #protocol = -1;
  #extensions = 0;
  #fragment = -1; // offset of the IPv6 fragment header
  #fragmentOffset = 0;
  #moreFragments = false;
  #l4 = -1;
  #l4Length = 0;

  /** Reads the packet at `bytes[offset, offset+length)`, captured on link `linkType`; returns the view. */
  read(bytes: Uint8Array, offset: number, length: number, linkType: number): this {
    this.#bytes = bytes;
    this.#end = Math.min(bytes.length, offset + Math.max(0, length));
    this.#linkType = linkType;
    this.#link = offset;
    this.#ethernet = false;
    this.#linkIfindex = -1;
    this.#vlans = 0;
    this.#vlan0 = -1;
    this.#vlan1 = -1;
    this.#etherType = -1;
    this.#net = -1;
    this.#netEnd = 0;
    this.#version = 0;
    this.#arp = -1;
    this.#protocol = -1;
    this.#extensions = 0;
    this.#fragment = -1;
    this.#fragmentOffset = 0;
    this.#moreFragments = false;
    this.#l4 = -1;
    this.#l4Length = 0;
    this.#readLink(offset);
    return this;
  }

  #u16(at: number): number {
    const b = this.#bytes;
    return (b[at]! << 8) | b[at + 1]!;
  }

  #u32(at: number): number {
    const b = this.#bytes;
    return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  }

  #readLink(at: number): void {
    const end = this.#end;
    switch (this.#linkType) {
      case LINKTYPE.ETHERNET:
        if (at + 14 > end) return;
        this.#ethernet = true;
        return this.#readEtherType(this.#u16(at + 12), at + 14);
      case LINKTYPE.LINUX_SLL:
        if (at + 16 > end) return;
        return this.#readEtherType(this.#u16(at + 14), at + 16);
      case LINKTYPE.LINUX_SLL2:
        if (at + 20 > end) return;
        this.#linkIfindex = this.#u32(at + 4);
        return this.#readEtherType(this.#u16(at), at + 20);
      case LINKTYPE.RAW:
      case LINKTYPE.IPV4:
      case LINKTYPE.IPV6:
        return this.#readRawIp(at);
      case LINKTYPE.NULL:
      case LINKTYPE.LOOP: {
        if (at + 4 > end) return;
        let family = this.#u32(at);
        // NULL is in the writing host's byte order: a family is small, so a big value is swapped.
        if (this.#linkType === LINKTYPE.NULL && family > 0xffff) family = this.#bytes[at]! | (this.#bytes[at + 1]! << 8);
        if (family === AF_INET) this.#etherType = ETHERTYPE.IPV4;
        else if (AF_INET6.has(family)) this.#etherType = ETHERTYPE.IPV6;
        else return;
        return this.#readNetwork(at + 4);
      }
    }
  }

  #readRawIp(at: number): void {
    if (at >= this.#end) return;
    const version = this.#bytes[at]! >> 4;
    if (version === 4) this.#etherType = ETHERTYPE.IPV4;
    else if (version === 6) this.#etherType = ETHERTYPE.IPV6;
    else return;
    this.#readNetwork(at);
  }

  /** EtherType `type`, then any VLAN tags from `at` on. */
  #readEtherType(type: number, at: number): void {
    while ((type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ || type === ETHERTYPE.QINQ_OLD) && this.#vlans < MAX_VLAN_TAGS) {
      if (at + 4 > this.#end) return;
      const id = this.#u16(at) & 0x0fff;
      if (this.#vlans === 0) this.#vlan0 = id;
      else if (this.#vlans === 1) this.#vlan1 = id;
      this.#vlans++;
      type = this.#u16(at + 2);
      at += 4;
    }
    this.#etherType = type;
    this.#readNetwork(at);
  }

  #readNetwork(at: number): void {
    const b = this.#bytes;
    const end = this.#end;
    const type = this.#etherType;
    if (type === ETHERTYPE.IPV4) {
      if (at + 20 > end || b[at]! >> 4 !== 4) return;
      const headerLength = (b[at]! & 0x0f) * 4;
      const total = this.#u16(at + 2);
      if (headerLength < 20 || at + headerLength > end || (total !== 0 && total < headerLength)) return;
      this.#net = at;
      this.#version = 4;
      // A total length of 0 is what segmentation offload leaves: the datagram is what was captured.
      this.#netEnd = total === 0 ? end : Math.min(end, at + total);
      this.#protocol = b[at + 9]!;
      const fragment = this.#u16(at + 6);
      this.#fragmentOffset = (fragment & 0x1fff) * 8;
      this.#moreFragments = (fragment & 0x2000) !== 0;
      if (this.#fragmentOffset === 0) this.#readTransport(at + headerLength);
    } else if (type === ETHERTYPE.IPV6) {
      if (at + 40 > end || b[at]! >> 4 !== 6) return;
      this.#net = at;
      this.#version = 6;
      const payload = this.#u16(at + 4);
      this.#netEnd = payload === 0 ? end : Math.min(end, at + 40 + payload);
      this.#readIpv6Extensions(at + 40, b[at + 6]!);
    } else if (type === ETHERTYPE.ARP) {
      // Only what the rest of the view can name: Ethernet (6-byte) and IPv4 (4-byte) addresses.
      if (at + 28 > end || b[at + 4] !== 6 || b[at + 5] !== 4) return;
      this.#arp = at;
    }
  }

  #readIpv6Extensions(at: number, next: number): void {
    const b = this.#bytes;
    const end = this.#netEnd;
    for (;;) {
      if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140 || next === 51 || next === 44) {
        if (this.#extensions === MAX_IPV6_EXTENSIONS || at + 8 > end) {
          this.#protocol = -1;
          return;
        }
        this.#extensions++;
        const following = b[at]!;
        if (next === 44) {
          this.#fragment = at;
          const word = this.#u16(at + 2);
          this.#fragmentOffset = word & 0xfff8;
          this.#moreFragments = (word & 1) !== 0;
          at += 8;
        } else {
          // AH counts its length in 4-byte units less 2; the others in 8-byte units less 1.
          at += next === 51 ? (b[at + 1]! + 2) * 4 : (b[at + 1]! + 1) * 8;
        }
        next = following;
        continue;
      }
      this.#protocol = next;
      if (this.#fragmentOffset === 0) this.#readTransport(at);
      return;
    }
  }

  #readTransport(at: number): void {
    const end = this.#netEnd;
    const protocol = this.#protocol;
    if (protocol === IPPROTO.TCP) {
      if (at + 20 > end) return;
      const headerLength = (this.#bytes[at + 12]! >> 4) * 4;
      if (headerLength < 20 || at + headerLength > end) return;
      this.#l4Length = headerLength;
    } else if (protocol === IPPROTO.UDP) {
      if (at + 8 > end) return;
      this.#l4Length = 8;
    } else if (protocol === IPPROTO.ICMP || protocol === IPPROTO.ICMPV6) {
      // Type, code and checksum; what follows depends on the type.
      if (at + 4 > end) return;
      this.#l4Length = 4;
    } else {
      return;
    }
    this.#l4 = at;
  }

  // ---- what was read ----

  /** The memory the offsets below index. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  get linkType(): number {
    return this.#linkType;
  }

  /** Offset of the network header in `bytes`, or -1 when there is no IPv4 or IPv6 header. */
  get networkOffset(): number {
    return this.#net;
  }

  /** Offset of the TCP, UDP, ICMP or ICMPv6 header, or -1 when absent. */
  get transportOffset(): number {
    return this.#l4;
  }

  /** Offset of the transport payload (past TCP options), or -1 when the transport header is absent. */
  get payloadOffset(): number {
    return this.#l4 < 0 ? -1 : this.#l4 + this.#l4Length;
  }

  /** Payload bytes captured (the IP length bounds it: Ethernet padding is not payload), or 0. */
  get payloadLength(): number {
    return this.#l4 < 0 ? 0 : Math.max(0, this.#netEnd - this.#l4 - this.#l4Length);
  }

  /**
   * Payload bytes by the IP length field: what was sent, including what the snapshot
   * length cut off (payloadLength is what was captured), or 0.
   */
  get payloadSize(): number {
    if (this.#l4 < 0) return 0;
    const length = this.#version === 4 ? this.#u16(this.#net + 2) : this.#u16(this.#net + 4) + 40;
    // A zero length field (segmentation offload, jumbograms): what was captured is all there is.
    if (length === 0 || length === 40) return this.payloadLength;
    return Math.max(0, this.#net + length - this.#l4 - this.#l4Length);
  }

  /** The payload's bytes: a view, allocated on each call. Empty when absent. */
  payload(): Uint8Array {
    const at = this.payloadOffset;
    return at < 0 ? EMPTY : this.#bytes.subarray(at, at + this.payloadLength);
  }

  // ---- link layer ----

  get srcMac(): string | null {
    return this.#ethernet ? macText(this.#bytes, this.#link + 6) : null;
  }

  get dstMac(): string | null {
    return this.#ethernet ? macText(this.#bytes, this.#link) : null;
  }

  /** The EtherType after any VLAN tags (for raw IP and loopback links, the one implied), or -1. */
  get etherType(): number {
    return this.#etherType;
  }

  /** How many 802.1Q/802.1ad tags precede the network header. */
  get vlanCount(): number {
    return this.#vlans;
  }

  /** The outer VLAN id, or -1. */
  get vlan(): number {
    return this.#vlan0;
  }

  /** The second (inner, QinQ) VLAN id, or -1. */
  get innerVlan(): number {
    return this.#vlan1;
  }

  /** The interface index a Linux cooked v2 (SLL2) header records, or -1. */
  get linkInterfaceIndex(): number {
    return this.#linkIfindex;
  }

  // ---- network layer ----

  /** 4 or 6 when an IP header is present, else 0. */
  get ipVersion(): number {
    return this.#version;
  }

  /** The transport protocol number (IPv6: after the extension headers), or -1. */
  get protocol(): number {
    return this.#protocol;
  }

  get ipHeaderLength(): number {
    return this.#version === 4 ? (this.#bytes[this.#net]! & 0x0f) * 4 : this.#version === 6 ? 40 : -1;
  }

  /** Bytes of IPv4 options, or 0. */
  get ipOptionsLength(): number {
    return this.#version === 4 ? this.ipHeaderLength - 20 : 0;
  }

  /** TTL (IPv4) or hop limit (IPv6), or -1. */
  get ttl(): number {
    return this.#version === 4 ? this.#bytes[this.#net + 8]! : this.#version === 6 ? this.#bytes[this.#net + 7]! : -1;
  }

  /** IPv4 identification, the IPv6 fragment header's, or -1. */
  get ipId(): number {
    if (this.#version === 4) return this.#u16(this.#net + 4);
    return this.#fragment >= 0 ? this.#u32(this.#fragment + 4) : -1;
  }

  /** The datagram's length by its header (IPv4 total length, IPv6 40 + payload length), or -1. */
  get ipLength(): number {
    if (this.#version === 4) return this.#u16(this.#net + 2);
    return this.#version === 6 ? 40 + this.#u16(this.#net + 4) : -1;
  }

  get dontFragment(): boolean {
    return this.#version === 4 && (this.#bytes[this.#net + 6]! & 0x40) !== 0;
  }

  get moreFragments(): boolean {
    return this.#moreFragments;
  }

  /** Offset of this fragment's data in the datagram, bytes (0 unless fragmented). */
  get fragmentOffset(): number {
    return this.#fragmentOffset;
  }

  /** Whether this is a fragment (any offset, or more to come). */
  get isFragment(): boolean {
    return this.#fragmentOffset !== 0 || this.#moreFragments;
  }

  /** How many IPv6 extension headers precede the transport. */
  get ipv6Extensions(): number {
    return this.#extensions;
  }

  get flowLabel(): number {
    return this.#version === 6 ? this.#u32(this.#net) & 0xfffff : -1;
  }

  /** Bytes of an address: 4, 16, or 0 without an IP header. */
  get addressLength(): number {
    return this.#version === 4 ? 4 : this.#version === 6 ? 16 : 0;
  }

  /** Offset of the source address in `bytes` (addressLength long), or -1. */
  get srcOffset(): number {
    return this.#version === 4 ? this.#net + 12 : this.#version === 6 ? this.#net + 8 : -1;
  }

  get dstOffset(): number {
    return this.#version === 4 ? this.#net + 16 : this.#version === 6 ? this.#net + 24 : -1;
  }

  /** IPv4 source as a 32-bit number (big-endian order), or -1. */
  get src4(): number {
    return this.#version === 4 ? this.#u32(this.#net + 12) : -1;
  }

  get dst4(): number {
    return this.#version === 4 ? this.#u32(this.#net + 16) : -1;
  }

  get srcAddress(): string | null {
    if (this.#version === 4) return ipv4Text(this.#bytes, this.#net + 12);
    return this.#version === 6 ? ipv6Text(this.#bytes, this.#net + 8) : null;
  }

  get dstAddress(): string | null {
    if (this.#version === 4) return ipv4Text(this.#bytes, this.#net + 16);
    return this.#version === 6 ? ipv6Text(this.#bytes, this.#net + 24) : null;
  }

  // ---- transport layer ----

  get isTcp(): boolean {
    return this.#l4 >= 0 && this.#protocol === IPPROTO.TCP;
  }

  get isUdp(): boolean {
    return this.#l4 >= 0 && this.#protocol === IPPROTO.UDP;
  }

  /** TCP or UDP source port, or -1. */
  get srcPort(): number {
    return this.#l4 >= 0 && (this.#protocol === IPPROTO.TCP || this.#protocol === IPPROTO.UDP) ? this.#u16(this.#l4) : -1;
  }

  get dstPort(): number {
    return this.#l4 >= 0 && (this.#protocol === IPPROTO.TCP || this.#protocol === IPPROTO.UDP) ? this.#u16(this.#l4 + 2) : -1;
  }

  /** TCP sequence number (raw, unsigned), or -1. */
  get seq(): number {
    return this.isTcp ? this.#u32(this.#l4 + 4) : -1;
  }

  get ack(): number {
    return this.isTcp ? this.#u32(this.#l4 + 8) : -1;
  }

  /** The 12 flag bits of the TCP header (see TCP), or -1. */
  get tcpFlags(): number {
    return this.isTcp ? this.#u16(this.#l4 + 12) & 0x0fff : -1;
  }

  /** The window field as sent (not scaled), or -1. */
  get window(): number {
    return this.isTcp ? this.#u16(this.#l4 + 14) : -1;
  }

  get tcpHeaderLength(): number {
    return this.isTcp ? this.#l4Length : -1;
  }

  /**
   * Offset of TCP option `kind`'s first byte, or -1. Walks the options as a receiver
   * does: END stops, NOP is one byte, any other needs a length of at least 2 that
   * stays within the header.
   */
  #option(kind: number, length: number): number {
    if (!this.isTcp) return -1;
    const b = this.#bytes;
    const end = this.#l4 + this.#l4Length;
    let at = this.#l4 + 20;
    while (at < end) {
      const k = b[at]!;
      if (k === 0) return -1;
      if (k === 1) {
        at++;
        continue;
      }
      if (at + 1 >= end) return -1;
      const len = b[at + 1]!;
      if (len < 2 || at + len > end) return -1;
      if (k === kind) return len === length ? at : -1;
      at += len;
    }
    return -1;
  }

  /** The MSS option's value, or -1. */
  get mss(): number {
    const at = this.#option(2, 4);
    return at < 0 ? -1 : this.#u16(at + 2);
  }

  /** The window scale option's shift count, or -1. */
  get windowScale(): number {
    const at = this.#option(3, 3);
    return at < 0 ? -1 : this.#bytes[at + 2]!;
  }

  get sackPermitted(): boolean {
    return this.#option(4, 2) >= 0;
  }

  /** The timestamps option's TSval, or -1. */
  get tsVal(): number {
    const at = this.#option(8, 10);
    return at < 0 ? -1 : this.#u32(at + 2);
  }

  get tsEcr(): number {
    const at = this.#option(8, 10);
    return at < 0 ? -1 : this.#u32(at + 6);
  }

  /** UDP's length field, or -1. */
  get udpLength(): number {
    return this.isUdp ? this.#u16(this.#l4 + 4) : -1;
  }

  /** ICMP or ICMPv6 type, or -1. */
  get icmpType(): number {
    return this.#l4 >= 0 && (this.#protocol === IPPROTO.ICMP || this.#protocol === IPPROTO.ICMPV6) ? this.#bytes[this.#l4]! : -1;
  }

  get icmpCode(): number {
    return this.#l4 >= 0 && (this.#protocol === IPPROTO.ICMP || this.#protocol === IPPROTO.ICMPV6) ? this.#bytes[this.#l4 + 1]! : -1;
  }

  // ---- ARP (Ethernet/IPv4) ----

  get isArp(): boolean {
    return this.#arp >= 0;
  }

  /** 1 request, 2 reply, ...; -1 when not ARP. */
  get arpOperation(): number {
    return this.#arp < 0 ? -1 : this.#u16(this.#arp + 6);
  }

  get arpSenderMac(): string | null {
    return this.#arp < 0 ? null : macText(this.#bytes, this.#arp + 8);
  }

  get arpSenderAddress(): string | null {
    return this.#arp < 0 ? null : ipv4Text(this.#bytes, this.#arp + 14);
  }

  get arpTargetMac(): string | null {
    return this.#arp < 0 ? null : macText(this.#bytes, this.#arp + 18);
  }

  get arpTargetAddress(): string | null {
    return this.#arp < 0 ? null : ipv4Text(this.#bytes, this.#arp + 24);
  }

  /** Every field present, for logging and tests (allocates). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { linkType: this.#linkType };
    if (this.#ethernet) Object.assign(out, { srcMac: this.srcMac, dstMac: this.dstMac });
    if (this.#etherType >= 0) out.etherType = this.#etherType;
    if (this.#vlans > 0)
      Object.assign(out, { vlan: this.vlan, vlanCount: this.#vlans, ...(this.#vlans > 1 ? { innerVlan: this.innerVlan } : {}) });
    if (this.#version) {
      Object.assign(out, {
        ipVersion: this.#version,
        srcAddress: this.srcAddress,
        dstAddress: this.dstAddress,
        protocol: this.#protocol,
        ttl: this.ttl,
      });
      if (this.isFragment)
        Object.assign(out, { fragmentOffset: this.#fragmentOffset, moreFragments: this.#moreFragments, ipId: this.ipId });
    }
    if (this.isTcp || this.isUdp) Object.assign(out, { srcPort: this.srcPort, dstPort: this.dstPort });
    if (this.isTcp) {
      Object.assign(out, { seq: this.seq, ack: this.ack, tcpFlags: this.tcpFlags, window: this.window });
      for (const k of ['mss', 'windowScale', 'tsVal', 'tsEcr'] as const) if (this[k] >= 0) out[k] = this[k];
      if (this.sackPermitted) out.sackPermitted = true;
    }
    if (this.icmpType >= 0) Object.assign(out, { icmpType: this.icmpType, icmpCode: this.icmpCode });
    if (this.#arp >= 0) {
      Object.assign(out, {
        arpOperation: this.arpOperation,
        arpSenderMac: this.arpSenderMac,
        arpSenderAddress: this.arpSenderAddress,
        arpTargetMac: this.arpTargetMac,
        arpTargetAddress: this.arpTargetAddress,
      });
    }
    if (this.#l4 >= 0) out.payloadLength = this.payloadLength;
    return out;
  }
}
