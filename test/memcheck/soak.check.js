'use strict';
// 1,000 open/close cycles per backend, with a datagram through each capture: after
// them the process holds exactly the descriptors, BPF objects and packet sockets it
// held after the first 100, every datagram was captured, and resident memory (after a
// full GC) grew by at most SOAK_RSS_BOUND. Measured on Linux 6.18 (five runs): 0.5 to
// 3.7 MiB (raw-socket), 2.6 to 4.6 MiB (eBPF tcx), 3.6 to 9.5 MiB (eBPF socket), and
// 9.2 MiB over 3,000 socket cycles: it levels off, as the batch buffer pool fills and
// glibc's arenas settle (filters compile on the thread pool), and is not per cycle. LeakSanitizer finds nothing the addon leaves allocated
// (test/memcheck/sanitizers.check.js).
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { requireVariant } = require('../helpers/privileged');

const MiB = 1024 * 1024;
const SOAK_RSS_BOUND = 16 * MiB;
const CYCLES = 1000;
const WARMUP = 100;
const VARIANTS = [
  { backend: 'raw-socket', batchTimeout: 1, bufferSize: MiB },
  { backend: 'raw-socket', batchTimeout: 1, bufferSize: MiB, zeroCopy: true },
  { backend: 'ebpf', attach: 'tcx', bufferSize: MiB },
  { backend: 'ebpf', attach: 'socket', bufferSize: MiB },
];

describe(`soak: ${CYCLES} open/close cycles`, function () {
  this.timeout(10 * 60_000);

  for (const [i, variant] of VARIANTS.entries()) {
    it(`${variant.backend}${variant.attach ? ` (${variant.attach})` : ''}${variant.zeroCopy ? ' (zero-copy)' : ''}: no descriptor or BPF object more, memory within ${SOAK_RSS_BOUND / MiB} MiB`, async function () {
      await requireVariant(this, variant);
      const config = { cycles: CYCLES, warmup: WARMUP, port: 23100 + i, variants: [variant] };
      const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, '..', 'fixtures', 'cycles.js')], {
        env: { ...process.env, TAPWIRE_CYCLES: JSON.stringify(config) },
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      const { warm, last, delivered } = JSON.parse(r.stdout);
      assert.equal(delivered, CYCLES, 'every capture captured its datagram');
      const { rss: warmRss, ...warmHeld } = warm;
      const { rss: lastRss, ...lastHeld } = last;
      assert.deepEqual(lastHeld, warmHeld);
      const growth = lastRss - warmRss;
      console.log(
        `      resident memory: ${(warmRss / MiB).toFixed(1)} MiB after ${WARMUP} cycles, ${(growth / MiB).toFixed(1)} MiB more after ${CYCLES}`,
      );
      assert.ok(growth <= SOAK_RSS_BOUND, `resident memory grew by ${(growth / MiB).toFixed(1)} MiB`);
    });
  }
});
