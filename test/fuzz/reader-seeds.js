'use strict';
// Writes the seed corpus of the capture-file readers' fuzzer (test/fuzz/corpus/readers):
// small files of every layout the readers take (pcap in both byte orders and both
// timestamp precisions, cut to a snapshot length, Kuznetzov's format, pcap 2.3's
// lengths, a pseudo-header libpcap rewrites; pcapng with several sections, interfaces,
// Enhanced and Simple Packet Blocks, statistics, unknown blocks, other timestamp
// resolutions, an offset past 2106).
// node test/fuzz/reader-seeds.js
const fs = require('node:fs');
const path = require('node:path');
const { pcapFile, pcapngFile, udpFrame } = require('../helpers/files');

const frames = [udpFrame(Buffer.from('one')), udpFrame(Buffer.alloc(40, 7), { dport: 53 }), udpFrame(Buffer.alloc(0))];
const packets = frames.map((data, i) => ({ seconds: 1_700_000_000 + i, fraction: i * 1000, data }));

const SEEDS = {
  'pcap-le-us.pcap': pcapFile({ packets }),
  'pcap-be-ns.pcap': pcapFile({ little: false, nanoseconds: true, packets }),
  'pcap-raw-ip.pcap': pcapFile({ linkType: 101, packets: packets.map((p) => ({ ...p, data: p.data.subarray(14) })) }),
  'pcap-cut.pcap': pcapFile({ packets: packets.map((p) => ({ ...p, data: p.data.subarray(0, 20), length: p.data.length })) }),
  'pcap-snaplen.pcap': pcapFile({ snaplen: 40, packets }),
  'pcap-kuznetzov.pcap': pcapFile({ little: false, magic: 0xa1b2cd34, packets }),
  'pcap-2.3-lengths.pcap': pcapFile({
    version: [2, 3],
    packets: packets.map((p, i) => ({ ...p, data: p.data.subarray(0, 20), length: p.data.length, swapLengths: i % 2 === 0 })),
  }),
  // Other-endian SocketCAN in a cooked header: a record libpcap rewrites.
  'pcap-be-sll-can.pcap': pcapFile({
    little: false,
    linkType: 113,
    packets: [
      { seconds: 1, fraction: 2_000_000, data: Buffer.from('000001180000000000000000000000000c00000001230800112233445566778899', 'hex') },
    ],
  }),
  'pcapng-2107-tsoffset.pcapng': pcapngFile({
    blocks: [
      { section: true },
      { iface: { linkType: 1, tsresol: 9, tsoffset: 4_323_283_200 } },
      { epb: { iface: 0, ts: 7n, data: frames[0] } },
    ],
  }),
  'pcapng-one.pcapng': pcapngFile({
    blocks: [
      { section: true },
      { iface: { linkType: 1, name: 'eth0' } },
      ...frames.map((data, i) => ({ epb: { iface: 0, ts: BigInt(i) * 1000n, data, flags: i % 2 ? 2 : 1 } })),
    ],
  }),
  'pcapng-be-two-sections.pcapng': Buffer.concat([
    pcapngFile({
      little: false,
      blocks: [{ section: true }, { iface: { linkType: 1, tsresol: 9 } }, { epb: { iface: 0, ts: 5n, data: frames[0] } }],
    }),
    pcapngFile({
      blocks: [
        { section: true },
        { iface: { linkType: 101, snaplen: 30 } },
        { spb: { data: frames[1].subarray(14) } },
        { isb: { iface: 0, drops: 3 } },
      ],
    }),
  ]),
  'pcapng-mixed.pcapng': pcapngFile({
    blocks: [
      { section: true },
      { iface: { linkType: 1, name: 'lo', tsresol: 0x86 } },
      { unknown: 0x0bad },
      { iface: { linkType: 1, name: 'veth0' } },
      { epb: { iface: 1, ts: 123456789n, data: frames[2] } },
      { epb: { iface: 0, ts: 1n << 40n, data: frames[1], length: 2000 } },
      { isb: { iface: 1, drops: 0 } },
    ],
  }),
};

const dir = path.join(__dirname, 'corpus', 'readers');
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
for (const [name, bytes] of Object.entries(SEEDS)) fs.writeFileSync(path.join(dir, name), bytes);
console.log(`${Object.keys(SEEDS).length} seeds in ${dir}`);
