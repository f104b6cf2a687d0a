'use strict';
// Live capture on a veth pair between this namespace and one the test makes. Runs for
// every backend this host can select; each assertion is checked against the kernel's
// own counters or against tcpdump on the same traffic.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { openCapturer, ClosedError } = require('..');
const { requireVariant } = require('./helpers/privileged');
const { createLinkWithSink, sendFromPeer, sendToPeer } = require('./helpers/netns');
const { startTcpdump } = require('./helpers/tools');
const { captureWhile, rxPackets } = require('./helpers/capture');
const { until } = require('./helpers/poll');

const PORT = 5001;
const UDP_OVERHEAD = 14 + 20 + 8;
const IFF_PROMISC = 0x100;

const VARIANTS = [
  { backend: 'ebpf', attach: 'tcx' },
  { backend: 'ebpf', attach: 'socket' },
  { backend: 'raw-socket' },
  { backend: 'raw-socket', zeroCopy: true },
];

for (const variant of VARIANTS) {
  const { backend } = variant;
  describe(`live capture (${Object.entries(variant)
    .map(([k, v]) => (k === 'zeroCopy' ? 'zero-copy' : v))
    .join(', ')})`, function () {
    let link;

    before(async function () {
      await requireVariant(this, variant, ['python3', 'tcpdump', 'ip']);
      link = await createLinkWithSink(PORT);
    });

    after(function () {
      link?.close();
    });

    const open = (options = {}) => openCapturer({ ...variant, interfaces: [link.outer], ...options });

    it('captures every frame sent, in order, with lengths, direction, interface and timestamps', async function () {
      // A lent ring covers a consumer's delay in blocks (docs/api.md, zero-copy): 16 by
      // default, 160 ms at this rate, which the suite's heap collected on an emulated CPU
      // outlasted (6.1, 6.12 guests). The larger buffer is what the docs tell such a consumer.
      const cap = await open({ filter: `udp port ${PORT}`, ...(variant.zeroCopy ? { bufferSize: 64 * 1024 * 1024 } : {}) });
      assert.equal(cap.backend, backend);
      assert.equal(cap.selection.attach, variant.attach);
      const t0 = Date.now();
      const { packets, result: sent } = await captureWhile(cap, () => sendFromPeer(link, { port: PORT, count: 2000, size: 100 }));
      const t1 = Date.now();
      assert.equal(sent, 2000);
      assert.equal(packets.length, 2000, JSON.stringify(cap.stats()));
      let last = 0;
      packets.forEach((p, i) => {
        assert.equal(p.length, UDP_OVERHEAD + 100);
        assert.equal(p.capturedLength, UDP_OVERHEAD + 100);
        assert.equal(p.direction, 'in');
        assert.equal(p.interfaceIndex, link.outerIndex);
        assert.equal(p.linkType, 1);
        assert.ok(p.timestamp >= t0 - 1 && p.timestamp <= t1 + 1, `timestamp ${p.timestamp} outside [${t0}, ${t1}]`);
        assert.ok(p.timestamp >= last, 'timestamps go forward');
        last = p.timestamp;
        assert.ok(Math.abs(Number(p.timestampNs) / 1e6 - p.timestamp) < 0.001, 'timestampNs agrees with timestamp');
        assert.equal(p.data.subarray(0, 6).toString('hex'), link.outerMac.replace(/:/g, ''));
        assert.equal(p.data[UDP_OVERHEAD], i & 255, `packet ${i} out of order`);
      });
      const stats = cap.stats();
      assert.equal(stats.packets, 2000);
      assert.equal(stats.bytes, 2000 * (UDP_OVERHEAD + 100));
      assert.deepEqual(stats.drops, { kernel: 0, ring: 0, userspace: 0 });
      // Only the eBPF backend sees what its filter rejects; nothing else crossed the link.
      assert.equal(stats.filtered, backend === 'ebpf' ? 0 : null);
    });

    it('reports frames this host sends as outgoing', async function () {
      const cap = await open({ filter: 'udp' });
      const { packets } = await captureWhile(cap, () => sendToPeer(link, { port: PORT + 7, count: 300, size: 20 }));
      assert.equal(packets.length, 300);
      for (const p of packets) {
        assert.equal(p.direction, 'out');
        assert.equal(p.interfaceIndex, link.outerIndex);
        assert.equal(p.data.subarray(0, 6).toString('hex'), link.innerMac.replace(/:/g, ''));
      }
    });

    it('honours snaplen: bytes captured are cut, wire length is kept', async function () {
      const cap = await open({ filter: `udp port ${PORT}`, snaplen: 60 });
      const { packets } = await captureWhile(cap, () => sendFromPeer(link, { port: PORT, count: 100, size: 500 }));
      assert.equal(packets.length, 100);
      for (const p of packets) {
        assert.equal(p.capturedLength, 60);
        assert.equal(p.data.length, 60);
        assert.equal(p.length, UDP_OVERHEAD + 500);
      }
    });

    it('is attached and filtering when openCapturer resolves: the first frame after it is captured', async function () {
      for (let round = 0; round < 5; round++) {
        const cap = await open({ filter: `udp port ${PORT}` });
        const { packets } = await captureWhile(cap, () => sendFromPeer(link, { port: PORT, count: 1, size: 10 }));
        assert.equal(packets.length, 1, `round ${round}`);
      }
    });

    const filters = [
      `udp port ${PORT}`,
      `udp and greater 200`,
      `less 100`,
      `dst port ${PORT + 1}`,
      `src port 40001 or udp[8] == 3`,
      `not udp port ${PORT}`,
      `udp dst portrange ${PORT}-${PORT + 1} and len > 90`,
      `ether dst ${'INNER_MAC'}`,
      `ip src ${'OUTER_ADDR'} and not icmp`,
      `icmp`,
    ];
    for (const template of filters) {
      it(`filters exactly as tcpdump does: ${template}`, async function () {
        const filter = template.replace('INNER_MAC', link.innerMac).replace('OUTER_ADDR', link.outerAddr);
        const dump = await startTcpdump(link.outer, filter);
        const cap = await open({ filter });
        const { packets } = await captureWhile(cap, async () => {
          await sendFromPeer(link, { port: PORT, count: 150, size: 50 });
          await sendFromPeer(link, { port: PORT + 1, count: 150, size: 300, sourcePort: 40002 });
          await sendToPeer(link, { port: PORT + 2, count: 100, size: 120 });
        });
        const { packets: reference } = await dump.stop();
        const ours = packets.map((p) => p.data.toString('hex')).sort();
        const theirs = reference.map((p) => p.data.toString('hex')).sort();
        assert.ok(theirs.length > 0 || template === 'icmp', 'the filter should match some traffic');
        assert.equal(ours.length, theirs.length, `tapwire ${ours.length} packets, tcpdump ${theirs.length}`);
        assert.deepEqual(ours, theirs);
      });
    }

    it('refuses a filter the kernel cannot run (a protochain loop) with ERR_BAD_FILTER', async function () {
      await assert.rejects(open({ filter: 'ip protochain 17' }), { code: 'ERR_BAD_FILTER' });
    });

    it('accounts for every frame when a slow consumer makes the kernel drop', async function () {
      const cap = await open({ filter: `udp port ${PORT}`, bufferSize: 128 * 1024, highWaterMark: 0 });
      const before = rxPackets(link.outer);
      const { packets, result: sent } = await captureWhile(cap, async () => {
        const sending = sendFromPeer(link, { port: PORT, count: 60000, size: 200 });
        // Hold the event loop the way a consumer stuck in synchronous work would, until
        // ten rings' worth of frames has arrived (however fast this machine sends).
        const until = Date.now() + 60000;
        while (rxPackets(link.outer) - before < 6000 && Date.now() < until);
        return sending;
      });
      const arrived = rxPackets(link.outer) - before;
      const stats = cap.stats();
      const dropped = stats.drops.kernel + stats.drops.ring + stats.drops.userspace;
      assert.equal(arrived, sent, 'every frame sent reached the interface');
      assert.ok((backend === 'ebpf' ? stats.drops.ring : stats.drops.kernel) > 0, 'the ring overflowed');
      assert.equal(packets.length + dropped, arrived);
      assert.equal(stats.packets, packets.length);
    });

    it('keeps packets valid after later batches arrive', async function () {
      const cap = await open({ filter: `udp port ${PORT}`, batchTimeout: 1 });
      const { packets, batches } = await captureWhile(cap, () => sendFromPeer(link, { port: PORT, count: 3000, size: 100 }));
      assert.ok(batches.length > 1, `needs several batches, got ${batches.length}`);
      assert.equal(packets.length, 3000);
      // Every payload still holds what was sent, long after its batch was handed over.
      packets.forEach((p, i) => assert.ok(p.data.subarray(UDP_OVERHEAD).every((b) => b === (i & 255))));
    });

    it('captures on every interface when none is named, with the filter applied', async function () {
      const cap = await openCapturer({ ...variant, filter: `udp port ${PORT + 3}` });
      const { packets } = await captureWhile(cap, () => sendFromPeer(link, { port: PORT + 3, count: 200, size: 40 }));
      assert.equal(packets.length, 200);
      assert.ok(packets.every((p) => p.interfaceIndex === link.outerIndex && p.direction === 'in'));
    });

    it('gives the same packets to events, the packet iterator and a Readable', async function () {
      const cap = await open({ filter: `udp port ${PORT}` });
      let fromEvents = 0;
      let fromBatchEvents = 0;
      cap.on('packet', () => fromEvents++);
      cap.on('batch', (b) => (fromBatchEvents += b.length));
      const iterated = [];
      const reading = (async () => {
        for await (const p of cap.packets()) iterated.push(p.data[UDP_OVERHEAD]);
      })();
      await sendFromPeer(link, { port: PORT, count: 500, size: 30 });
      await until('500 packets by every way of reading', () => fromEvents >= 500 && fromBatchEvents >= 500 && iterated.length >= 500);
      await cap.close();
      await reading;
      assert.equal(fromEvents, 500);
      assert.equal(fromBatchEvents, 500);
      assert.deepEqual(
        iterated,
        Array.from({ length: 500 }, (_, i) => i & 255),
      );

      const cap2 = await open({ filter: `udp port ${PORT}` });
      const streamed = [];
      const stream = cap2.readable('packets');
      const done = new Promise((resolve) => stream.on('end', resolve));
      stream.on('data', (p) => streamed.push(p.length));
      await sendFromPeer(link, { port: PORT, count: 200, size: 30 });
      await until('200 packets from the Readable', () => streamed.length >= 200);
      await cap2.close();
      await done;
      assert.equal(streamed.length, 200);
    });

    it('sets promiscuous mode only while capturing', async function () {
      const flags = () => Number(fs.readFileSync(`/sys/class/net/${link.outer}/flags`, 'utf8'));
      assert.equal(flags() & IFF_PROMISC, 0);
      const cap = await open({ promiscuous: true });
      assert.equal(flags() & IFF_PROMISC, IFF_PROMISC);
      await cap.close();
      assert.equal(flags() & IFF_PROMISC, 0);
    });

    it('closes idempotently, on AbortSignal and on asyncDispose', async function () {
      const controller = new AbortController();
      const cap = await open({ signal: controller.signal });
      const loop = (async () => {
        for await (const _ of cap);
      })();
      controller.abort();
      await loop;
      assert.equal(cap.closed, true);
      await cap.close();
      await cap.close();
      // A loop after close takes what is left unread (nothing here) and ends: never ERR_CLOSED.
      for await (const _ of cap) assert.fail('nothing was left unread');
      assert.throws(
        () => cap.use({ name: 'x', register() {}, close: async () => {} }),
        (e) => e instanceof ClosedError && e.code === 'ERR_CLOSED',
      );
      assert.equal(typeof cap.stats().packets, 'number');

      const disposable = await open();
      await disposable[Symbol.asyncDispose]();
      assert.equal(disposable.closed, true);

      const aborted = AbortSignal.abort();
      await assert.rejects(open({ signal: aborted }), { name: 'AbortError' });
    });
  });
}
