'use strict';
// A platform the package has no addon for (musl libc such as Alpine's, another
// architecture, an install that compiled nothing): one sentence saying what to do, at
// install (dist/platform.js, which the install script runs before any build) and at
// require, never node-gyp-build's "No native build was found" and its stack. Simulated on this machine with a copy of the package that has no build/, and
// with LIBC=musl, which makes node-gyp-build pass over the glibc prebuild as it does on
// Alpine. (The packed tarball's own install on such a platform: test/release.)
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');

/** A copy of the package without build/; `prebuild` adds this build's addon as the linux-x64 glibc prebuild. */
function packageCopy({ prebuild }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwire-platform-'));
  for (const part of ['package.json', 'dist', 'bin']) fs.cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  if (prebuild) {
    fs.mkdirSync(path.join(dir, 'prebuilds', 'linux-x64'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'build', 'Release', 'tapwire.node'), path.join(dir, 'prebuilds', 'linux-x64', 'tapwire.glibc.node'));
  }
  return dir;
}

/** Runs this node with ARGS in `dir`, with only `env` and a PATH of `pathDirs` and a folder holding `node` alone. */
function node(dir, args, { env = {}, pathDirs = [] } = {}) {
  const bin = path.join(dir, '.bin-node-only');
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  }
  return spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', env: { PATH: [bin, ...pathDirs].join(':'), ...env } });
}

/** What require('tapwire') throws, as { code, message } (or { loaded: true } once probe() ran). */
function requireError(dir, options) {
  const script = `let tapwire;
try { tapwire = require('./dist/index.js'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); process.exit(0); }
tapwire.probe().then((r) => console.log(JSON.stringify({ loaded: r.features.bpf.ok })));`;
  const r = node(dir, ['-e', script], options);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** A directory holding a link to apt-get, as on Debian and Ubuntu. */
function withApt() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwire-apt-'));
  fs.symlinkSync('/usr/bin/true', path.join(dir, 'apt-get'));
  return dir;
}

describe('platforms without an addon', function () {
  const made = [];
  const track = (dir) => (made.push(dir), dir);
  after(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('musl (Alpine): require says in one sentence that musl is not supported and what to run on, with the glibc prebuild passed over', function () {
    const dir = track(packageCopy({ prebuild: true }));
    const e = requireError(dir, { env: { LIBC: 'musl' }, pathDirs: [track(withApt())] });
    assert.equal(e.code, 'ERR_UNSUPPORTED_PLATFORM');
    assert.equal(
      e.message,
      "tapwire does not run on musl libc (Alpine Linux): the package's prebuilt addon is for linux-x64 (glibc), and building it from source needs glibc and " +
        `Debian's or Ubuntu's apt; use a glibc-based image such as node:${process.versions.node.split('.')[0]}-slim (Debian).`,
    );
  });

  it('musl: the CLI prints that sentence as one line and exits 1, with no stack', function () {
    const dir = track(packageCopy({ prebuild: true }));
    const r = node(dir, ['bin/tapwire.js', 'probe'], { env: { LIBC: 'musl' } });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^tapwire: ERR_UNSUPPORTED_PLATFORM: tapwire does not run on musl libc \(Alpine Linux\): [^\n]+\.\n$/);
  });

  it('musl: the install-time check exits 1 with the same sentence; on this glibc host with apt it passes silently', function () {
    const dir = track(packageCopy({ prebuild: true }));
    const apt = track(withApt());
    const musl = node(dir, ['dist/platform.js'], { env: { LIBC: 'musl' }, pathDirs: [apt] });
    assert.equal(musl.status, 1);
    assert.equal(musl.stdout, '');
    assert.equal(musl.stderr, `${requireError(dir, { env: { LIBC: 'musl' }, pathDirs: [apt] }).message}\n`);
    const glibc = node(dir, ['dist/platform.js'], { pathDirs: [apt] });
    assert.equal(glibc.status, 0, glibc.stderr);
    assert.equal(glibc.stderr + glibc.stdout, '');
  });

  it('glibc without apt (no prebuild for this platform, no way to build one): says so, at install and at require', function () {
    const dir = track(packageCopy({ prebuild: false }));
    const e = requireError(dir);
    assert.equal(e.code, 'ERR_UNSUPPORTED_PLATFORM');
    assert.equal(
      e.message,
      "tapwire has no addon for linux-x64 with glibc: this copy of the package holds no prebuilt addon, and building it from source needs Debian's or Ubuntu's apt " +
        '(it builds libbpf, libpcap, libelf and zlib from their source packages).',
    );
    const install = node(dir, ['dist/platform.js']);
    assert.equal(install.status, 1);
    assert.equal(install.stderr, `${e.message}\n`);
  });

  it('glibc with apt but nothing compiled (installed with --ignore-scripts): names the command that compiles it', function () {
    const dir = track(packageCopy({ prebuild: false }));
    const e = requireError(dir, { pathDirs: [track(withApt())] });
    assert.equal(e.code, 'ERR_UNSUPPORTED_PLATFORM');
    assert.match(
      e.message,
      /^tapwire has no addon for linux-x64 with glibc: .*none was compiled at install; run `npm rebuild tapwire` to compile it/,
    );
  });

  it('where an addon fits, nothing changes: require loads the prebuild and probes', function () {
    const dir = track(packageCopy({ prebuild: true }));
    assert.deepEqual(requireError(dir, { pathDirs: [track(withApt())] }), { loaded: true });
  });
});
