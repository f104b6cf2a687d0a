'use strict';
// Captures under load and consumers that misbehave: ten capturers on one interface each
// get every packet; a consumer that never reads holds memory to its bound while the
// kernel counts what it drops (captured + dropped = what the interface received,
// exactly); a consumer that throws loses nothing and stops nothing.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { openCapturer } = require('..');
const { requireVariant } = require('./helpers/privileged');
const { createLinkWithSink, sendFromPeer } = require('./helpers/netns');
const { captureWhile, rxPackets } = require('./helpers/capture');
const { until } = require('./helpers/poll');

const PORT = 5001;
const MiB = 1024 * 1024;
const VARIANTS = [{ backend: 'raw-socket' }, { backend: 'ebpf', attach: 'tcx' }, { backend: 'ebpf', attach: 'socket' }];
// A consumer that never reads may grow the process by at most this much: batches held
// up to highWaterMark (1 MiB here), the ring's pages once touched (1 MiB), the batch
// buffers kept for reuse, and the allocator's own slack. Measured: 1.7 to 2.0 MiB.
const NEVER_READS_RSS_BOUND = 16 * MiB;

const txPackets = (iface) => Number(fs.readFileSync(`/sys/class/net/${iface}/statistics/tx_packets`, 'utf8'));
const rssOf = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

/** Starts test/fixtures/consumer.js; `next()` resolves with its next message. */
function startConsumer(config) {
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'consumer.js')], {
    env: { ...process.env, TAPWIRE_CONSUMER: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr: () => stderr })));
  return {
    child,
    exited,
    async next() {
      const { value, done } = await lines.next();
      if (done) throw new Error(`the consumer ended: ${stderr}`);
      return JSON.parse(value);
    },
  };
}

for (const variant of VARIANTS) {
  describe(`load and misbehaving consumers (${Object.values(variant).join(', ')})`, function () {
    this.timeout(Math.max(this.timeout(), 120000)); // never below the run's own (emulated kernels are slower)
    let link;

    before(async function () {
      await requireVariant(this, variant, ['ip', 'python3']);
      link = await createLinkWithSink(PORT);
    });

    after(function () {
      link?.close();
    });

    it('ten capturers on one interface each get every packet, in order', async function () {
      const caps = [];
      try {
        // Ten consumers on one event loop: under qemu one may not run for longer than the
        // default ring's eight blocks of 10 ms, and a full ring drops (counted). Blocks of
        // 100 ms give it the time; what this tests is the fan-out, in order.
        const options = { ...variant, interfaces: [link.outer], filter: `udp port ${PORT}`, batchTimeout: 100 };
        for (let i = 0; i < 10; i++) caps.push(await openCapturer(options));
        const got = caps.map(() => []);
        caps.forEach((cap, i) => cap.on('packet', (p) => got[i].push(p.data[42])));
        const sent = await sendFromPeer(link, { port: PORT, count: 1000, size: 20 });
        // Every packet is either delivered or counted as dropped; wait for that, as long as the
        // test may take (emulated kernels run this far slower), so a loss fails below by name.
        const accounted = (i) => got[i].length + Object.values(caps[i].stats().drops).reduce((a, b) => a + b, 0);
        try {
          await until(
            'every capturer to account for every packet',
            () => caps.every((_, i) => accounted(i) >= sent),
            this.timeout() - 15000,
          );
        } catch (err) {
          err.message += `: of ${sent} sent, delivered ${got.map((g) => g.length).join(', ')}; stats ${JSON.stringify(caps.map((c) => c.stats()))}`;
          throw err;
        }
        for (const [i, g] of got.entries()) {
          assert.deepEqual(caps[i].stats().drops, { kernel: 0, ring: 0, userspace: 0 }, `capturer ${i} lost packets`);
          assert.deepEqual(
            g,
            Array.from({ length: sent }, (_, j) => j & 255),
            `capturer ${i}`,
          );
        }
      } finally {
        for (const cap of caps) await cap.close();
      }
    });

    it('a consumer that never reads: memory stays bounded, and captured + dropped = received, exactly', async function () {
      const consumer = startConsumer({
        mode: 'never-reads',
        options: { ...variant, interfaces: [link.outer], highWaterMark: MiB, bufferSize: MiB },
      });
      try {
        const { pid } = await consumer.next();
        const rx = rxPackets(link.outer);
        const tx = txPackets(link.outer);
        const baseline = rssOf(pid);
        let peak = baseline;
        const sampling = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
        await sendFromPeer(link, { port: PORT, count: 100000, size: 20 });
        clearInterval(sampling);
        peak = Math.max(peak, rssOf(pid));
        const received = rxPackets(link.outer) - rx;
        consumer.child.stdin.write('close\n');
        const { stats } = await consumer.next();
        const dropped = stats.drops.kernel + stats.drops.ring + stats.drops.userspace;
        assert.equal(txPackets(link.outer) - tx, 0, 'nothing but the flood crossed the link');
        assert.ok(dropped > 0, 'the consumer fell behind: the kernel dropped and counted');
        assert.equal(stats.packets + dropped, received);
        assert.ok(peak - baseline <= NEVER_READS_RSS_BOUND, `the process grew by ${((peak - baseline) / MiB).toFixed(1)} MiB`);
      } finally {
        consumer.child.kill();
      }
    });

    it('a for-await body that throws: the error reaches the loop, and the capture goes on for the next reader', async function () {
      const cap = await openCapturer({ ...variant, interfaces: [link.outer], filter: `udp port ${PORT}` });
      const sending = sendFromPeer(link, { port: PORT, count: 500, size: 20 });
      let first = 0;
      await assert.rejects(async () => {
        for await (const batch of cap) {
          first += batch.length;
          throw new Error('a consumer that throws');
        }
      }, /a consumer that throws/);
      const { packets } = await captureWhile(cap, () => sending);
      assert.ok(first > 0);
      assert.equal(first + packets.length, 500);
      assert.deepEqual(cap.stats().drops, { kernel: 0, ring: 0, userspace: 0 });
    });

    for (const handled of [true, false]) {
      it(`a 'batch' listener that throws ${handled ? "goes to 'uncaughtException'; capture loses nothing" : "ends the process as any listener's throw does, with code 1"}`, async function () {
        const consumer = startConsumer({
          mode: 'listener-throws',
          handled,
          options: { ...variant, interfaces: [link.outer], filter: `udp port ${PORT}` },
        });
        try {
          await consumer.next();
          await sendFromPeer(link, { port: PORT, count: 300, size: 20 });
          if (!handled) {
            const { code, signal, stderr } = await consumer.exited;
            assert.equal(signal, null);
            assert.equal(code, 1);
            assert.match(stderr(), /Error: a listener that throws/);
            return;
          }
          consumer.child.stdin.write('close\n');
          const { stats, uncaught } = await consumer.next();
          assert.equal(stats.packets, 300);
          assert.ok(uncaught >= 1, 'each batch threw');
          assert.deepEqual(stats.drops, { kernel: 0, ring: 0, userspace: 0 });
        } finally {
          consumer.child.kill();
        }
      });
    }
  });
}
