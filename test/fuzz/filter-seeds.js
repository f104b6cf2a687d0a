'use strict';
// Writes the generated seeds of the translator harness (test/fuzz/corpus/filter/seed-*):
// programs libpcap compiles from expressions that use every kind of instruction (indexed
// and header-length loads, scratch memory, arithmetic and shifts by X, division), each
// with frames of the test corpus, in every form. The corpus's other files are inputs
// that once showed a bug, kept as they were found. node test/fuzz/filter-seeds.js
const fs = require('node:fs');
const path = require('node:path');
const { native } = require('../../dist/native');
const { corpus } = require('../helpers/corpus');

const EXPRESSIONS = [
  'udp port 53',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn',
  'tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420',
  'ip[ip[0] & 0xf] > 7',
  'udp and ip[2:2] - ((ip[0] & 0xf) << 2) - 8 > 50',
  'ip[2:2] / (ip[8] & 0x7) > 10',
  'ip[2:2] % (ip[9] - 6) = 0',
  'ip[2:2] << (ip[8] & 0x3f) > 500',
  'ip[2:2] >> (ip[1] & 0x3f) = 0',
  'vlan 100 and udp',
  'ip6 and tcp port 80',
  'arp or (ether multicast and not ip6)',
];
const FORMS = 3; // tc with direct reads, tc through the helper, socket filter

async function main() {
  const dir = path.join(__dirname, 'corpus', 'filter');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) if (f.startsWith('seed-')) fs.rmSync(path.join(dir, f));
  const frames = corpus(EXPRESSIONS.length * 2, 7);
  let n = 0;
  for (const [i, expression] of EXPRESSIONS.entries()) {
    const program = await native().compileFilter(expression, 1, i % 2 ? 262144 : 96);
    const count = program.length / 8;
    if (count > 255) continue;
    for (const frame of [frames[2 * i], frames[2 * i + 1]]) {
      const seed = Buffer.concat([Buffer.from([n % FORMS, count]), program, frame]);
      fs.writeFileSync(path.join(dir, `seed-${String(n++).padStart(3, '0')}.bin`), seed);
    }
  }
  console.log(`${n} seeds in ${dir}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
