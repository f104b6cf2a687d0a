'use strict';
// Capture files built byte by byte, for the reader's tests: layouts tapwire never
// writes itself (big-endian, microsecond and binary-fraction timestamps, Simple Packet
// Blocks, several sections, unknown blocks). tshark reads each one as well, which
// checks these builders against a real reader.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function endian(little) {
  const u16 = (v) => {
    const b = Buffer.alloc(2);
    little ? b.writeUInt16LE(v) : b.writeUInt16BE(v);
    return b;
  };
  const u32 = (v) => {
    const b = Buffer.alloc(4);
    little ? b.writeUInt32LE(v >>> 0) : b.writeUInt32BE(v >>> 0);
    return b;
  };
  const u64 = (v) => {
    const b = Buffer.alloc(8);
    little ? b.writeBigUInt64LE(BigInt(v)) : b.writeBigUInt64BE(BigInt(v));
    return b;
  };
  return { u16, u32, u64 };
}

const pad = (buf) => Buffer.concat([buf, Buffer.alloc((4 - (buf.length % 4)) % 4)]);

/**
 * Classic pcap: packets are { seconds, fraction (µs or ns), data, length? }. Odd files
 * too: `version` [major, minor], `snaplen`, `magic` (Kuznetzov's 0xa1b2cd34 adds 8 bytes
 * to each record header), and records whose `swapLengths` writes the original length first.
 */
function pcapFile({ little = true, nanoseconds = false, linkType = 1, snaplen = 262144, version = [2, 4], magic, packets }) {
  const { u16, u32 } = endian(little);
  const kind = magic ?? (nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4);
  const parts = [u32(kind), u16(version[0]), u16(version[1]), u32(0), u32(0), u32(snaplen), u32(linkType)];
  for (const p of packets) {
    const lengths = [u32(p.data.length), u32(p.length ?? p.data.length)];
    if (p.swapLengths) lengths.reverse();
    parts.push(u32(p.seconds), u32(p.fraction), ...lengths);
    if (kind === 0xa1b2cd34) parts.push(u32(p.ifindex ?? 0), u16(0x0800), Buffer.from([0, 0]));
    parts.push(p.data);
  }
  return Buffer.concat(parts);
}

/**
 * pcapng from a list of blocks: { section }, { iface: { linkType, name?, tsresol?, tsoffset?, snaplen? } },
 * { epb: { iface, ts (bigint, in the interface's units), data, length?, flags? } },
 * { spb: { data, length? } }, { isb: { iface, drops } }, { unknown: type }.
 */
function pcapngFile({ little = true, blocks }) {
  const { u16, u32, u64 } = endian(little);
  const block = (type, ...body) => {
    const content = Buffer.concat(body);
    const total = 12 + content.length;
    return Buffer.concat([u32(type), u32(total), content, u32(total)]);
  };
  const options = (list) =>
    Buffer.concat([...list.map(([code, value]) => Buffer.concat([u16(code), u16(value.length), pad(value)])), u32(0)]);
  return Buffer.concat(
    blocks.map((b) => {
      if (b.section) return block(0x0a0d0d0a, u32(0x1a2b3c4d), u16(1), u16(0), u64(0xffffffffffffffffn), u32(0));
      if (b.iface) {
        const opts = [];
        if (b.iface.name) opts.push([2, Buffer.from(b.iface.name)]);
        if (b.iface.tsresol !== undefined) opts.push([9, Buffer.from([b.iface.tsresol])]);
        if (b.iface.tsoffset !== undefined) opts.push([14, u64(b.iface.tsoffset)]);
        return block(1, u16(b.iface.linkType ?? 1), u16(0), u32(b.iface.snaplen ?? 0), options(opts));
      }
      if (b.epb) {
        const { iface, ts, data, length, flags } = b.epb;
        const opts = flags === undefined ? [] : [[2, u32(flags)]];
        return block(
          6,
          u32(iface),
          u32(Number(ts >> 32n)),
          u32(Number(ts & 0xffffffffn)),
          u32(data.length),
          u32(length ?? data.length),
          pad(data),
          options(opts),
        );
      }
      if (b.spb) return block(3, u32(b.spb.length ?? b.spb.data.length), pad(b.spb.data));
      if (b.isb) return block(5, u32(b.isb.iface), u32(0), u32(0), options([[5, u64(b.isb.drops)]]));
      if (b.unknown) return block(b.unknown, u32(0xdeadbeef));
      throw new Error(`unknown block ${JSON.stringify(b)}`);
    }),
  );
}

/** An Ethernet/IPv4/UDP frame carrying `payload` (checksums left zero: tools ignore them). */
function udpFrame(payload, { src = '198.18.0.1', dst = '198.18.0.2', sport = 40000, dport = 5001 } = {}) {
  const ip = (a) => Buffer.from(a.split('.').map(Number));
  const eth = Buffer.from('02000000000202000000000108 00'.replace(/ /g, ''), 'hex');
  const ipHeader = Buffer.alloc(20);
  ipHeader[0] = 0x45;
  ipHeader.writeUInt16BE(20 + 8 + payload.length, 2);
  ipHeader[8] = 64;
  ipHeader[9] = 17;
  ip(src).copy(ipHeader, 12);
  ip(dst).copy(ipHeader, 16);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([eth, ipHeader, udp, payload]);
}

/**
 * An Ethernet/IPv4/TCP segment between 10.0.0.1:40000 (the client) and 10.0.0.2:80,
 * from the server when `fromServer` (checksums left zero).
 */
function tcpFrame(seq, ack, flags, payload, fromServer = false) {
  const eth = Buffer.from('0200000000020200000000010800', 'hex');
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(40 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 6;
  Buffer.from(fromServer ? [10, 0, 0, 2, 10, 0, 0, 1] : [10, 0, 0, 1, 10, 0, 0, 2]).copy(ip, 12);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(fromServer ? 80 : 40000, 0);
  tcp.writeUInt16BE(fromServer ? 40000 : 80, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(ack >>> 0, 8);
  tcp[12] = 0x50;
  tcp[13] = flags;
  tcp.writeUInt16BE(65535, 14);
  return Buffer.concat([eth, ip, tcp, payload]);
}

/** tshark's reading of a file: one object per frame with the fields asked for. */
function tsharkFields(file, fields, extra = []) {
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=|', ...extra, ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => Object.fromEntries(line.split('|').map((v, i) => [fields[i], v])));
}

/**
 * A scratch directory for the files of the describe block it is called in, removed
 * after it: `file(name, bytes?)` writes `bytes` there (if given) and returns the path.
 */
function scratchFiles(prefix) {
  let dir;
  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return (name, bytes) => {
    const p = path.join(dir, name);
    if (bytes !== undefined) fs.writeFileSync(p, bytes);
    return p;
  };
}

module.exports = { pcapFile, pcapngFile, udpFrame, tcpFrame, tsharkFields, scratchFiles };
