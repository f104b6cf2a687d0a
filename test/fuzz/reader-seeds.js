'use strict';
// Writes the seed corpus of the capture-file readers' fuzzer (test/fuzz/corpus/readers):
// small files of every layout the readers take (pcap in both byte orders and both
// timestamp precisions, pcapng with several sections, interfaces, Enhanced and Simple
// Packet Blocks, statistics, unknown blocks, other timestamp resolutions).
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
