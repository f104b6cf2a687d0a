'use strict';
// The package as npm users install it (scripts/package-check/check.sh: prebuild in a
// Debian 11 root, pack, install, capture inside a slim Debian 11 root). A property of
// the package, not of a kernel: `npm run test:package` runs it once, on the host, and
// CI counts it beside the suite (it needs the npm registry, which a kernel-matrix
// guest does not reach).
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { requirePrivileges } = require('../helpers/privileged');

const ROOT = path.join(__dirname, '..', '..');

describe('package', function () {
  describe('packed tarball in a slim Debian 11 root', function () {
    this.timeout(15 * 60_000);

    it('installs without a build step, captures on loopback, compiles filters, replays; ldd and symbol floors', async function () {
      await requirePrivileges(this, ['debootstrap', 'chroot', 'objdump', 'nm', 'clang', 'bpftool']);
      const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'package-check', 'check.sh')], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines = r.stdout.split('\n').filter((l) => /^(PASS|FAIL):/.test(l));
      for (const line of lines) console.log(`      ${line}`);
      const failed = lines.filter((l) => l.startsWith('FAIL'));
      assert.deepEqual(failed, [], r.stdout + r.stderr);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.ok(lines.length >= 15, `expected every check to report, got ${lines.length} lines:\n${r.stdout}`);
    });
  });
});
