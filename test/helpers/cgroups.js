'use strict';
// Test cgroups: a cgroup v2 directory the test makes (under the v2 mount), processes
// started inside it, and its removal once they are gone.
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { bpfList } = require('./bpftool');
const { cgroup2Mount } = require('../../dist/cgroup');

/** Makes a cgroup (under `parent`, default the mount's root); `remove()` deletes it and any child. */
function createCgroup(parent = cgroup2Mount()) {
  const dir = path.join(parent, `twt-${process.pid}-${crypto.randomBytes(3).toString('hex')}`);
  fs.mkdirSync(dir);
  return {
    dir,
    name: path.relative(cgroup2Mount(), dir),
    remove() {
      for (const child of fs.readdirSync(dir, { withFileTypes: true })) {
        if (child.isDirectory()) fs.rmdirSync(path.join(dir, child.name));
      }
      fs.rmdirSync(dir);
    },
  };
}

/** Runs `cmd args` inside cgroup `dir` (it joins before exec); resolves with { code, stdout }. */
function runIn(dir, cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'echo 0 > "$0/cgroup.procs" && exec "$@"', dir, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ code, stdout }) : reject(new Error(`${cmd} exited ${code}: ${stderr}`))));
  });
}

/**
 * The BPF links attached to cgroup `dir` (its id is its inode), as bpftool lists them.
 * Links, not `bpftool cgroup show`: that queries attach types older kernels refuse.
 */
function cgroupPrograms(dir) {
  const id = fs.statSync(dir).ino;
  return bpfList('link').filter((l) => l.type === 'cgroup' && l.cgroup_id === id);
}

module.exports = { cgroup2Mount, createCgroup, runIn, cgroupPrograms };
