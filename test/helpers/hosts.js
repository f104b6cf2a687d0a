'use strict';
// Hosts without eBPF, made from the real kernel: the same process run without the
// BPF capabilities (capsh), with bpf() failing ENOSYS, or with eBPF attachment refused
// after the probe passed (seccomp, helpers/seccomp-host.c).
const { execFileSync, spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');
const { built } = require('./built');

function seccompHost() {
  const source = path.join(__dirname, 'seccomp-host.c');
  const args = (out) => ['-O2', '-o', out, source];
  const dir = built('seccomp-host', [source], JSON.stringify(args('O')), (into) =>
    execFileSync('cc', args(path.join(into, 'seccomp-host'))),
  );
  return path.join(dir, 'seccomp-host');
}

const CHILD = path.join(__dirname, '..', 'fixtures', 'capture-child.js');

/** The child, run by root with these capabilities removed from its bounding set. */
function capsh(drop) {
  return ['capsh', `--drop=${drop}`, '--', '-c', `exec "${process.execPath}" "${CHILD}"`];
}

/** How to start a node process on each kind of host. */
const HOSTS = {
  'eBPF-capable (root)': () => [process.execPath, CHILD],
  'without CAP_SYS_ADMIN/CAP_BPF/CAP_PERFMON': () => capsh('cap_sys_admin,cap_bpf,cap_perfmon'),
  'with bpf() ENOSYS (seccomp)': () => [seccompHost(), 'no-bpf', process.execPath, CHILD],
  'eBPF programs load but may not attach (seccomp)': () => [seccompHost(), 'no-ebpf-attach', process.execPath, CHILD],
  // Kernels before 5.11 hold BPF maps to RLIMIT_MEMLOCK: room for the probe's programs,
  // not for a capture's ring buffer, and no CAP_SYS_RESOURCE to raise it.
  'RLIMIT_MEMLOCK 512 KiB, no CAP_SYS_RESOURCE': () => ['prlimit', '--memlock=524288:524288', ...capsh('cap_sys_resource')],
  'without CAP_NET_RAW': () => capsh('cap_net_raw'),
  'without CAP_NET_RAW nor BPF': () => capsh('cap_net_raw,cap_sys_admin,cap_bpf,cap_perfmon'),
  'CAP_BPF + CAP_NET_ADMIN only': () => capsh('cap_sys_admin,cap_perfmon,cap_net_raw'),
  'CAP_BPF + CAP_NET_RAW only': () => capsh('cap_sys_admin,cap_perfmon,cap_net_admin'),
};

/**
 * Starts fixtures/capture-child.js on `host` with `options`; `onReady` runs once the
 * child's capturer is attached. Resolves with the child's messages by event name.
 */
function runChild(host, options, onReady) {
  const [cmd, ...args] = HOSTS[host]();
  const child = spawn(cmd, args, {
    env: { ...process.env, TAPWIRE_CHILD: JSON.stringify(options) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const messages = {};
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = readline.createInterface({ input: child.stdout });
  const pending = [];
  lines.on('line', (line) => {
    const msg = JSON.parse(line);
    messages[msg.event] = msg;
    if (msg.event === 'ready') pending.push(Promise.resolve(onReady(msg)));
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', async (code) => {
      try {
        await Promise.all(pending);
      } catch (err) {
        return reject(err);
      }
      if (code !== 0) return reject(new Error(`child on ${host} exited ${code}: ${stderr}`));
      resolve(messages);
    });
  });
}

/** Starts the child as root; resolves with the process once its capturer is attached. */
function runChildUntilReady(options) {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, TAPWIRE_CHILD: JSON.stringify(options) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.once('exit', (code) => reject(new Error(`child exited ${code} before it was ready`)));
    lines.on('line', (line) => {
      const msg = JSON.parse(line);
      if (msg.event === 'ready') resolve(child);
      if (msg.event === 'error') reject(new Error(`${msg.code}: ${msg.message}`));
    });
  });
}

module.exports = { HOSTS, runChild, runChildUntilReady };
