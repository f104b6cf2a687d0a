'use strict';
// The package as npm users install it. The full check (scripts/package-check/check.sh:
// prebuild in a Debian 11 root, pack, install, capture inside a slim Debian 11 root)
// runs under CI; the source build's preflight runs everywhere.
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { requirePrivileges, requireTools } = require('./helpers/privileged');

const ROOT = path.join(__dirname, '..');
const PREFLIGHT = path.join(ROOT, 'scripts', 'build-requirements.sh');

/** A PATH holding only `commands` (links to this machine's own), and an empty deps dir. */
function sandbox(commands) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwire-preflight-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.mkdirSync(path.join(dir, 'deps'));
  for (const cmd of commands) {
    const real = execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
    fs.symlinkSync(real, path.join(dir, 'bin', cmd));
  }
  return dir;
}

function preflight(dir, env = {}) {
  return spawnSync(path.join(dir, 'bin', 'bash'), [PREFLIGHT], {
    encoding: 'utf8',
    env: { PATH: path.join(dir, 'bin'), TAPWIRE_DEPS: path.join(dir, 'deps'), ...env },
  });
}

describe('package', function () {
  describe('source build preflight', function () {
    const base = ['bash', 'dirname', 'uname'];
    const toolchain = ['python3', 'make', 'cc', 'g++'];
    let dirs = [];
    afterEach(() => {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
      dirs = [];
    });

    it('names each missing system package and the apt-get line that installs them', function () {
      requireTools(this, [...base, ...toolchain]);
      const dir = sandbox([...base, ...toolchain]);
      dirs.push(dir);
      const r = preflight(dir);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /cannot build the native addon from source/);
      assert.match(r.stderr, /missing system packages: clang bpftool flex bison bzip2 xz-utils dpkg-dev apt\b/);
      assert.match(r.stderr, /apt-get install clang bpftool flex bison/);
      assert.doesNotMatch(r.stderr, /\bpython3\b|\bg\+\+/);
    });

    it('says how to get the source packages when apt has no deb-src entries', function () {
      const tools = [...base, ...toolchain, 'clang', 'bpftool', 'flex', 'bison', 'bzip2', 'xz', 'dpkg-source', 'apt-get', 'apt-cache'];
      requireTools(this, tools);
      const dir = sandbox(tools);
      dirs.push(dir);
      // A real apt with an empty source list: what a machine without deb-src has.
      fs.mkdirSync(path.join(dir, 'lists', 'partial'), { recursive: true });
      fs.mkdirSync(path.join(dir, 'parts'));
      fs.writeFileSync(path.join(dir, 'apt.conf'), [
        `Dir::Etc::sourcelist "${path.join(dir, 'none.list')}";`,
        `Dir::Etc::sourceparts "${path.join(dir, 'parts')}";`,
        `Dir::State::Lists "${path.join(dir, 'lists')}";`,
        `Dir::Cache "${path.join(dir, 'cache')}";`,
      ].join('\n'));
      const r = preflight(dir, { APT_CONFIG: path.join(dir, 'apt.conf') });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /apt has no source packages/);
      assert.match(r.stderr, /add deb-src entries/);
      assert.doesNotMatch(r.stderr, /missing system packages/);
    });

    it('passes where everything a source build needs is installed', function () {
      requireTools(this, ['clang', 'bpftool', 'flex', 'bison', 'g++', 'make', 'python3']);
      const r = spawnSync('bash', [PREFLIGHT], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
    });
  });

  describe('packed tarball in a slim Debian 11 root', function () {
    this.timeout(15 * 60_000);

    it('installs without a build step, captures on loopback, compiles filters, replays; ldd and symbol floors', function () {
      if (process.env.CI !== 'true') {
        this.skip('runs under CI=true (about a minute warm, three with the Debian 11 root to make): bash scripts/package-check/check.sh');
      }
      requirePrivileges(this, ['debootstrap', 'chroot', 'objdump', 'nm', 'clang', 'bpftool']);
      const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'package-check', 'check.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const lines = r.stdout.split('\n').filter((l) => /^(PASS|FAIL):/.test(l));
      for (const line of lines) console.log(`      ${line}`);
      const failed = lines.filter((l) => l.startsWith('FAIL'));
      assert.deepEqual(failed, [], r.stdout + r.stderr);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.ok(lines.length >= 15, `expected every check to report, got ${lines.length} lines:\n${r.stdout}`);
    });
  });
});
