'use strict';
// A worker or a process that ends with capturers open: nothing crashes, and a worker's
// kernel state (descriptors, BPF objects, packet sockets) is released with the worker.
// Each case runs in a child process, so a crash is a failed test, not a dead suite.
const assert = require('node:assert/strict');
const path = require('node:path');
const { run } = require('./helpers/tools');
const { requireVariant } = require('./helpers/privileged');
const { requireFeature } = require('./helpers/features');

async function requireAll(ctx, variant) {
  await requireVariant(ctx, variant);
  if (variant.tls) await requireFeature(ctx, 'uprobe');
}

const VARIANTS = [
  { backend: 'raw-socket' },
  { backend: 'raw-socket', zeroCopy: true },
  { backend: 'ebpf', attach: 'tcx' },
  { backend: 'ebpf', attach: 'socket' },
  { backend: 'ebpf', attach: 'socket', tls: 'required' },
];
const fixture = (name) => path.join(__dirname, 'fixtures', name);
let nextPort = 24000 + (process.pid % 1000) * 8;

describe('workers and processes that end with capturers open', function () {
  this.timeout(Math.max(this.timeout(), 120000)); // never below the run's own (emulated kernels are slower)

  for (const variant of VARIANTS) {
    const name = Object.entries(variant)
      .map(([k, v]) => (k === 'tls' ? `TLS ${v}` : k === 'zeroCopy' ? 'zero-copy' : v))
      .join(', ');
    // Several environments at once, each with its own addon instance; the TLS plugin
    // loads its programs once per hooked file, seconds each: fewer workers there.
    const workers = variant.tls ? 2 : 3;
    const ends = variant.tls
      ? [
          ['terminate', 1],
          ['exit', 0],
        ]
      : [
          ['terminate', 1],
          ['exit', 0],
          ['close', 0],
        ];
    for (const [end, code] of ends) {
      it(`${name}: ${workers} capturing workers, each ended by ${end === 'terminate' ? 'worker.terminate()' : end === 'exit' ? 'process.exit() in the worker' : 'close()'}`, async function () {
        await requireAll(this, variant);
        const port = nextPort++;
        const options = { ...variant, interfaces: ['lo'], filter: `udp port ${port}` };
        const child = await run(process.execPath, [fixture('workers.js')], {
          env: { ...process.env, TAPWIRE_WORKERS: JSON.stringify({ workers, end, port, options }) },
        });
        assert.equal(child.code, 0, `the process ended with ${child.signal ?? child.code}: ${child.stderr}`);
        const { before, after, exits } = JSON.parse(child.stdout);
        assert.deepEqual(exits, Array(workers).fill(code));
        assert.deepEqual(after, before, 'every descriptor the workers opened is closed');
      });
    }
  }

  for (const from of ['listener', 'timer']) {
    it(`process.exit() from a ${from === 'listener' ? "'batch' listener" : 'timer'} with a capturer of each backend open`, async function () {
      for (const variant of VARIANTS) await requireAll(this, variant);
      const child = await run(process.execPath, [fixture('exit-while-open.js')], {
        env: { ...process.env, TAPWIRE_EXIT: JSON.stringify({ variants: VARIANTS, port: nextPort++, from }) },
      });
      assert.equal(child.code, 7, `the process ended with ${child.signal ?? child.code}: ${child.stderr}`);
      assert.equal(child.stderr, '');
    });
  }
});

describe('native sources after close()', function () {
  const { native } = require('../dist/native');
  const acceptAll = Buffer.from([6, 0, 0, 0, 0xff, 0xff, 0, 0]); // ret #65535
  const SOURCES = {
    PacketRing: () =>
      new (native().PacketRing)(
        { ifindex: 1, filter: acceptAll, blockSize: 65536, blockCount: 2, blockTimeoutMs: 10, snaplen: 65535, promiscuous: false },
        () => {},
      ),
    EbpfCapture: () =>
      new (native().EbpfCapture)(
        {
          attach: 'socket',
          ringSize: 1 << 20,
          wakeupBytes: 1 << 16,
          batchBytes: 1 << 18,
          drainIntervalMs: 10,
          snaplen: 65535,
          promiscuous: false,
          targets: [{ ifindex: 1, hardwareType: 772, filter: acceptAll, outgoing: false }],
        },
        () => {},
      ),
    TlsCapture: () =>
      new (native().TlsCapture)(
        { ringSize: 1 << 20, wakeupBytes: 1 << 17, batchBytes: 1 << 22, selfTgid: process.pid, pids: null, drainIntervalMs: 10 },
        () => {},
      ),
  };

  for (const [name, make] of Object.entries(SOURCES)) {
    it(`${name}: every method after close() does nothing or throws ECLOSED`, async function () {
      await requireAll(
        this,
        name === 'PacketRing' ? { backend: 'raw-socket' } : { backend: 'ebpf', attach: 'socket', tls: name === 'TlsCapture' },
      );
      const source = make();
      source.close();
      for (const method of ['resume', 'pause', 'flush', 'detach', 'close']) source[method]?.();
      assert.equal(typeof source.stats(), 'object');
      if (name === 'TlsCapture') assert.throws(() => source.attach(process.execPath, 0, 0), { nativeCode: 'ECLOSED' });
    });
  }
});
