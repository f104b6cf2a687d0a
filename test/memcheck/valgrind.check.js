'use strict';
// A short capture on each backend (raw-socket, copying and zero-copy; eBPF through tcx where the kernel has it,
// and as a socket filter) with node under valgrind's memcheck (scripts/memcheck.sh
// valgrind): no error, no block definitely lost, every datagram captured. The
// suppressions (test/memcheck/valgrind.supp) are for V8's conservative stack scan and
// for valgrind's own model of bpf(2); the run lists which ones it used.
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { requirePrivileges, requireTools } = require('../helpers/privileged');

const MEMCHECK = path.join(__dirname, '..', '..', 'scripts', 'memcheck.sh');

describe('valgrind memcheck', function () {
  it('a capture on each backend: 0 errors, 0 bytes definitely lost, every datagram captured', async function () {
    this.timeout(10 * 60_000);
    await requirePrivileges(this);
    requireTools(this, ['valgrind']);
    const r = spawnSync('bash', [MEMCHECK, 'valgrind'], { encoding: 'utf8' });
    const summary = /ERROR SUMMARY: (\d+) errors from \d+ contexts \(suppressed: (\d+) from \d+\)/.exec(r.stderr);
    assert.ok(summary, `valgrind gave no summary:\n${r.stderr.slice(-4000)}`);
    const used = [...r.stderr.matchAll(/used_suppression:\s+(\d+) (\S+)/g)].map((m) => `${m[2]} ×${m[1]}`);
    console.log(`      ${summary[1]} errors; suppressed: ${used.join(', ') || 'none'}`);
    assert.equal(r.status, 0, `valgrind found errors:\n${r.stderr.slice(-20000)}`);
    assert.equal(summary[1], '0');
    assert.match(r.stderr, /definitely lost: 0 bytes in 0 blocks/);
    const { delivered, variants } = JSON.parse(r.stdout);
    assert.equal(delivered, variants * 2, 'each capture captured its datagram');
  });
});
