'use strict';
// What the benchmark needs before it starts: a current build of tapwire, the cap
// package built, the tools on PATH.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { log, fail } = require('./log');
const { run } = require('./processes');

const ROOT = path.join(__dirname, '..', '..');

function newestMtime(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

function ensureTapwireBuilt(build) {
  if (build) {
    log('npm run build:all');
    execFileSync('npm', ['run', 'build:all'], { cwd: ROOT, stdio: ['ignore', 2, 2], timeout: 900_000 });
  }
  const outputs = [path.join(ROOT, 'dist', 'index.js'), path.join(ROOT, 'build', 'Release', 'tapwire.node')];
  const missing = outputs.filter((p) => !fs.existsSync(p));
  if (missing.length)
    fail(`tapwire is not built (${missing.map((p) => path.relative(ROOT, p)).join(', ')} missing): run npm run build:all, or pass --build`);
  const sources = Math.max(newestMtime(path.join(ROOT, 'lib')), newestMtime(path.join(ROOT, 'native')));
  if (sources > Math.min(...outputs.map((p) => fs.statSync(p).mtimeMs))) {
    log('warning: lib/ or native/ changed after the last build: this measures the old build (npm run build:all, or pass --build)');
  }
}

function ensureCap() {
  let dir;
  try {
    dir = path.dirname(require.resolve('cap/package.json', { paths: [ROOT] }));
  } catch {
    return 'the npm package cap is not installed (npm install)';
  }
  const addon = path.join(dir, 'build', 'Release', 'cap.node');
  if (!fs.existsSync(addon)) {
    log('building the cap package (npm rebuild cap; needs libpcap-dev)');
    try {
      execFileSync('npm', ['rebuild', 'cap'], { cwd: ROOT, stdio: ['ignore', 2, 2], timeout: 600_000 });
    } catch {
      /* checked below */
    }
    if (!fs.existsSync(addon)) return 'cap did not build (apt-get install libpcap-dev, then npm rebuild cap)';
  }
  return null;
}

function which(cmd) {
  try {
    run('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

function version(cmd, args, re) {
  try {
    const t = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return (re.exec(t) || [])[1] ?? t.trim().split('\n')[0];
  } catch (e) {
    const t = `${e.stdout || ''}${e.stderr || ''}`;
    return (re.exec(t) || [])[1] ?? null;
  }
}

module.exports = { ensureTapwireBuilt, ensureCap, which, version };
