'use strict';
// Filters are compiled on libuv's thread pool, once per link type a capture needs:
// libpcap's optimizer takes seconds on a large expression, and the event loop (timers,
// other captures, a server) goes on meanwhile.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer } = require('..');
const { native } = require('../dist/native');
const { requireVariant } = require('./helpers/privileged');
const { createLink, removeLink } = require('./helpers/netns');
const { pcapFile, udpFrame } = require('./helpers/files');

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
