'use strict';
// The package as npm users install it (scripts/package-check/check.sh: prebuild in a
// Debian 11 root, pack, install, capture inside a slim Debian 11 root; then the same
// tarball under the official binary of each Node line `engines` names, and on Debian's
// arm64 kernel booted in qemu-system-aarch64 with the official arm64 Node). A property of
// the package, not of a kernel: `npm run test:package` runs it once, on the host, and
// CI counts it beside the suite (it needs the npm registry, which a kernel-matrix
// guest does not reach).
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { requirePrivileges } = require('../helpers/privileged');

const ROOT = path.join(__dirname, '..', '..');
// The lines users are told work ("20 || 22 || 24 || 26"): this node's own line is the
// one the slim root runs; each other gets its official binary.
const LINES = require('../../package.json')
  .engines.node.split('||')
  .map((range) => /\d+/.exec(range)[0]);
const OTHER_LINES = LINES.filter((line) => line !== process.versions.node.split('.')[0]);

describe('package', function () {
  this.timeout(20 * 60_000);
  let run;

  before(async function () {
    await requirePrivileges(this, [
      'debootstrap',
      'chroot',
      'objdump',
      'nm',
      'clang',
      'bpftool',
      'openssl',
      'qemu-aarch64-static',
      'qemu-system-aarch64',
    ]);
    const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'package-check', 'check.sh'), ...OTHER_LINES], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = r.stdout.split('\n').filter((l) => /^(PASS|FAIL):/.test(l));
    run = { ...r, lines, output: r.stdout + r.stderr };
  });

  /** The check's lines for one part, each printed; fails on any FAIL and on fewer than `least`. */
  function expectPart(pick, least) {
    const lines = run.lines.filter((l) => pick(l.replace(/^(PASS|FAIL): /, '')));
    for (const line of lines) console.log(`      ${line}`);
    assert.deepEqual(
      lines.filter((l) => l.startsWith('FAIL')),
      [],
      run.output,
    );
    assert.ok(lines.length >= least, `expected ${least} checks to report, got ${lines.length}:\n${run.output}`);
  }

  it('packed tarball in a slim Debian 11 root: installs without a build step, captures on loopback, compiles filters, replays; ldd and symbol floors', function () {
    expectPart((l) => !/^(node \d|arm64:)/.test(l), 15);
    assert.equal(run.status, run.lines.some((l) => l.startsWith('FAIL')) ? 1 : 0, run.output);
  });

  for (const line of OTHER_LINES) {
    it(`under the official Node ${line}: installs, loads, probes, captures on each backend with a filter, reads its own https client's TLS plaintext`, function () {
      expectPart((l) => l.startsWith(`node ${line}.`), 6);
    });
  }

  it('on an arm64 machine (Debian 12 arm64 kernel in qemu, official arm64 Node): the install takes the arm64 prebuild, which probes, captures on each backend and by cgroup with attribution into files tshark reads, and reads the TLS plaintext of node and curl', function () {
    expectPart((l) => l.startsWith('arm64: '), 11);
  });
});
