'use strict';
// The source build's preflight: what npm users without a matching prebuild see. The
// packed package itself is checked by test/release/package.check.js.
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { requireTools } = require('./helpers/privileged');

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
      fs.writeFileSync(
        path.join(dir, 'apt.conf'),
        [
          `Dir::Etc::sourcelist "${path.join(dir, 'none.list')}";`,
          `Dir::Etc::sourceparts "${path.join(dir, 'parts')}";`,
          `Dir::State::Lists "${path.join(dir, 'lists')}";`,
          `Dir::Cache "${path.join(dir, 'cache')}";`,
        ].join('\n'),
      );
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
});
