'use strict';
// A deterministic corpus of Ethernet frames for filter tests: IPv4 (options, fragments),
// IPv6 (extension headers), TCP/UDP/ICMP/GRE/SCTP, ARP, 802.1Q and QinQ tags, odd and
// truncated lengths. Addresses and ports come from small sets so filters match some.

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MACS = ['020000000001', '020000000002', 'ffffffffffff', '01005e000001', '333300000001'];
const V4 = ['0a000001', '0a000002', '0a000003', 'c0a80101', 'c0a8fe02', 'e0000001', 'ffffffff'];
const V6 = [
  '20010db8000000000000000000000001',
  '20010db8000000000000000000000002',
  'ff020000000000000000000000000001',
  'fe800000000000000000000000000001',
];
const PORTS = [22, 53, 80, 443, 1024, 1500, 2000, 8080, 8050, 40000];

function corpus(count = 600, seed = 42) {
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const bytes = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
  const hex = (h) => Buffer.from(h, 'hex');
  const u16 = (v) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    return b;
  };

  function l4(proto) {
    const payload = bytes(Math.floor(r() * 120));
    if (proto === 6) {
      const h = Buffer.alloc(20);
      h.writeUInt16BE(pick(PORTS), 0);
      h.writeUInt16BE(pick(PORTS), 2);
      h[12] = (5 + Math.floor(r() * 3)) << 4;
      h[13] = pick([0x02, 0x12, 0x10, 0x18, 0x11, 0x04, Math.floor(r() * 256)]);
      const opts = bytes(((h[12] >> 4) - 5) * 4);
      const http = r() < 0.2 ? Buffer.from('GET / HTTP/1.1\r\n') : Buffer.alloc(0);
      return Buffer.concat([h, opts, http, payload]);
    }
    if (proto === 17) {
      const h = Buffer.alloc(8);
      h.writeUInt16BE(pick(PORTS), 0);
      h.writeUInt16BE(pick(PORTS), 2);
      h.writeUInt16BE(8 + payload.length, 4);
      return Buffer.concat([h, payload]);
    }
    if (proto === 1 || proto === 58) return Buffer.concat([Buffer.from([pick([0, 3, 8, 11, 128, 129, 135]), 0, 0, 0]), payload]);
    return payload;
  }

  function ipv4() {
    const proto = pick([6, 17, 1, 47, 132, 6, 17]);
    const ihl = r() < 0.8 ? 5 : 5 + Math.floor(r() * 4);
    const body = l4(proto);
    const h = Buffer.alloc(ihl * 4);
    h[0] = 0x40 | ihl;
    h.writeUInt16BE(h.length + body.length, 2);
    const frag = r();
    h.writeUInt16BE(frag < 0.7 ? 0x4000 : frag < 0.85 ? 0x2000 : Math.floor(r() * 0x2000), 6);
    h[8] = pick([1, 32, 64, 128, 255]);
    h[9] = proto;
    hex(pick(V4)).copy(h, 12);
    hex(pick(V4)).copy(h, 16);
    return { type: 0x0800, body: Buffer.concat([h, body]) };
  }

  function ipv6() {
    let next = pick([6, 17, 58, 44, 0, 6]);
    const headers = [];
    if (next === 44 || next === 0) {
      const inner = pick([6, 17, 58]);
      headers.push(Buffer.from([inner, 0, 0, 0, 0, 0, 0, 0]));
      const body = l4(inner);
      const h = Buffer.alloc(40);
      h[0] = 0x60;
      h.writeUInt16BE(8 + body.length, 4);
      h[6] = next;
      h[7] = 64;
      hex(pick(V6)).copy(h, 8);
      hex(pick(V6)).copy(h, 24);
      return { type: 0x86dd, body: Buffer.concat([h, ...headers, body]) };
    }
    const body = l4(next);
    const h = Buffer.alloc(40);
    h[0] = 0x60;
    h.writeUInt16BE(body.length, 4);
    h[6] = next;
    h[7] = 64;
    hex(pick(V6)).copy(h, 8);
    hex(pick(V6)).copy(h, 24);
    return { type: 0x86dd, body: h.length ? Buffer.concat([h, body]) : body };
  }

  function arp() {
    const b = Buffer.alloc(28);
    b.writeUInt16BE(1, 0);
    b.writeUInt16BE(0x0800, 2);
    b[4] = 6;
    b[5] = 4;
    b.writeUInt16BE(pick([1, 2]), 6);
    hex(pick(V4)).copy(b, 14);
    hex(pick(V4)).copy(b, 24);
    return { type: 0x0806, body: b };
  }

  const frames = [];
  while (frames.length < count) {
    const kind = r();
    const inner =
      kind < 0.45 ? ipv4() : kind < 0.75 ? ipv6() : kind < 0.85 ? arp() : { type: pick([0x88cc, 0x8863, 0x1234]), body: bytes(46) };
    const tags = [];
    const t = r();
    if (t < 0.15) tags.push(Buffer.concat([u16(0x8100), u16(pick([100, 200, 4095]))]));
    else if (t < 0.2) tags.push(Buffer.concat([u16(0x88a8), u16(300)]), Buffer.concat([u16(0x8100), u16(100)]));
    let frame = Buffer.concat([hex(pick(MACS)), hex(pick(MACS)), ...tags, u16(inner.type), inner.body]);
    const l2 = 14 + 4 * tags.length;
    if (r() < 0.15) {
      // Cut somewhere past the network header (the kernel's test runs need one).
      const keep = l2 + (inner.type === 0x86dd ? 40 : inner.type === 0x0800 ? (inner.body[0] & 0xf) * 4 : 0);
      frame = frame.subarray(0, Math.max(keep, Math.floor(keep + r() * (frame.length - keep))));
    }
    if (frame.length < 60 && r() < 0.5) frame = Buffer.concat([frame, Buffer.alloc(60 - frame.length)]);
    frames.push(frame);
  }
  return frames;
}

module.exports = { corpus, rng };
