'use strict';
// Filters are compiled on libuv's thread pool, once per link type a capture needs:
// libpcap's optimizer takes seconds on a large expression, and the event loop (timers,
// other captures, a server) goes on meanwhile.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer } = require('..');
const { native } = require('../dist/native');
const { requirePrivileges, requireVariant } = require('./helpers/privileged');
const { createLink, removeLink } = require('./helpers/netns');
const { pcapFile, udpFrame } = require('./helpers/files');

const DLT_EN10MB = 1;
const VARIANTS = [{ backend: 'raw-socket' }, { backend: 'ebpf', attach: 'tcx' }, { backend: 'ebpf', attach: 'socket' }];
// About 1,500 classic instructions, which libpcap's optimizer takes long over (about half a second here).
const SLOW = Array.from({ length: 300 }, (_, i) => `udp port ${10000 + i}`).join(' or ');

/** Timer ticks (every millisecond asked) while `work` runs. */
async function ticksDuring(work) {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

/** The link types native compileFilter was asked for while `work` ran. */
async function compilesDuring(work) {
  const binding = native();
  const original = binding.compileFilter;
  const dlts = [];
  binding.compileFilter = (expression, dlt, snaplen) => {
    dlts.push(dlt);
    return original.call(binding, expression, dlt, snaplen);
  };
  try {
    await work();
  } finally {
    binding.compileFilter = original;
  }
  return dlts;
}

describe('filter compilation', function () {
  this.timeout(Math.max(this.timeout(), 120000)); // never below the run's own (emulated kernels are slower)

  it('replay: the event loop runs while a large filter compiles', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-compile-'));
    try {
      const file = path.join(dir, 'one.pcap');
      fs.writeFileSync(file, pcapFile({ packets: [{ seconds: 1, fraction: 0, data: udpFrame(Buffer.from('x'), { dport: 10001 }) }] }));
      let cap;
      const ticks = await ticksDuring(async () => (cap = await openCapturer({ file, filter: SLOW })));
      await cap.close();
      assert.ok(ticks >= 20, `the timer ran ${ticks} times`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a live link's program is the one tcpdump attaches, instruction for instruction (`tcpdump -dd`), VLAN tests included", async function () {
    await requirePrivileges(this, ['tcpdump']);
    for (const expression of ['vlan', 'vlan 42 and udp port 53', 'not vlan and tcp', 'udp port 53', 'host 10.0.0.1 or arp']) {
      // lo is an Ethernet link to libpcap; tcpdump compiles on the live handle, with its Linux VLAN extensions.
      const theirs = execFileSync('tcpdump', ['-i', 'lo', '-dd', expression], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        .trim()
        .split('\n')
        .map((line) => line.match(/0x[0-9a-f]+|\d+/g).map(Number));
      const program = await native().compileFilter(expression, DLT_EN10MB, 262144);
      const ours = Array.from({ length: program.length / 8 }, (_, i) => [
        program.readUInt16LE(i * 8),
        program[i * 8 + 2],
        program[i * 8 + 3],
        program.readUInt32LE(i * 8 + 4),
      ]);
      assert.deepEqual(ours, theirs, expression);
    }
  });

  it("`vlan N` on a live link matches the tag the kernel holds in metadata, or one left in the bytes; a file's, the bytes only", async function () {
    const frame = udpFrame(Buffer.from('x'));
    const inBytes = Buffer.concat([frame.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 42]), frame.subarray(12)]);
    const live = await native().compileFilter('vlan 42', DLT_EN10MB, 262144);
    const file = await native().compileFilter('vlan 42', DLT_EN10MB, 262144, false);
    const match = (program, data, tci) => native().matchFilter(program, data, data.length, tci) > 0;
    assert.equal(match(live, frame, 42), true, 'tag 42 in metadata');
    assert.equal(match(live, frame, 0x2000 | 42), true, 'tag 42 with a priority');
    assert.equal(match(live, frame, 43), false, 'tag 43 in metadata');
    assert.equal(match(live, frame), false, 'no tag');
    assert.equal(match(live, inBytes), true, 'tag 42 in the bytes');
    assert.equal(match(file, frame, 42), false, "a file's program does not read metadata");
    assert.equal(match(file, inBytes), true);
  });

  for (const variant of VARIANTS) {
    const name = Object.values(variant).join(', ');

    it(`${name}: the event loop runs while a large filter compiles`, async function () {
      await requireVariant(this, variant);
      let refused = null;
      const ticks = await ticksDuring(async () => {
        try {
          await (await openCapturer({ ...variant, interfaces: ['lo'], filter: SLOW })).close();
        } catch (err) {
          refused = err;
        }
      });
      assert.ok(ticks >= 20, `the timer ran ${ticks} times`);
      // The compile ran either way; before Linux 6.9 a socket may hold only 20 KiB of
      // filter (net.core.optmem_max), which this filter's eBPF program exceeds.
      const optmem = Number(fs.readFileSync('/proc/sys/net/core/optmem_max', 'utf8'));
      if (refused && variant.attach === 'socket' && optmem < 65536) {
        assert.equal(refused.code, 'ERR_BAD_FILTER', refused.message);
        assert.match(refused.message, /net\.core\.optmem_max = \d+ bytes/);
      } else if (refused) {
        throw refused;
      }
    });

    it(`${name}: three interfaces of one link type compile the filter once`, async function () {
      await requireVariant(this, variant, ['ip']);
      const links = [createLink(), createLink()];
      try {
        const dlts = await compilesDuring(async () => {
          const cap = await openCapturer({ ...variant, interfaces: ['lo', ...links.map((l) => l.outer)], filter: 'udp port 53' });
          await cap.close();
        });
        assert.deepEqual(dlts, [1], 'once, for Ethernet (DLT_EN10MB): loopback frames carry an Ethernet header');
      } finally {
        for (const link of links) removeLink(link);
      }
    });
  }
});
