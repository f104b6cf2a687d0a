'use strict';
// Real peers that check our output: tcpdump on the same interface and filter, and a
// reader for the classic pcap files it writes.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/**
 * Starts tcpdump writing to a temp file (inside network namespace `ns` if given, with
 * `args` such as `-y LINUX_SLL2`); resolves once it is listening. With `keep`, stopping
 * leaves the file and says where it is; the caller removes it.
 */
function startTcpdump(iface, filter, { ns, args: extra = [], keep = false } = {}) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tw-tcpdump-')), 'out.pcap');
  const args = ['-i', iface, '-n', '-U', '--immediate-mode', '-B', '16384', ...extra, '-w', file, ...(filter ? [filter] : [])];
  // ip netns exec execs tcpdump in its own process, so the signal that stops it reaches tcpdump.
  const child = spawn(ns ? 'ip' : 'tcpdump', ns ? ['netns', 'exec', ns, 'tcpdump', ...args] : args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/listening on/.test(stderr)) resolve({ stop: () => stop(child, file, () => stderr, keep), written: () => recordsIn(file) });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${stderr}`)));
  });
}

/** Whole records tcpdump has written to `file` so far (a busy machine can keep it behind the traffic). */
function recordsIn(file) {
  const buf = fs.readFileSync(file, { flag: 'r' });
  let n = 0;
  for (let off = 24; off + 16 <= buf.length && off + 16 + buf.readUInt32LE(off + 8) <= buf.length; n++)
    off += 16 + buf.readUInt32LE(off + 8);
  return n;
}

/** Resolves once `file` has not grown for two polls (at most 5 s): tcpdump, slowed by a busy machine, has written what it read. */
async function settled(file) {
  let last = -1;
  let same = 0;
  for (let i = 0; i < 50 && same < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
    same = size === last ? same + 1 : 0;
    last = size;
  }
}

async function stop(child, file, stderr, keep) {
  await settled(file);
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', () => {
      const packets = readPcap(fs.readFileSync(file));
      if (keep) return resolve({ packets, summary: stderr(), file });
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
      resolve({ packets, summary: stderr() });
    });
    child.kill('SIGINT');
  });
}

/** Classic pcap (microsecond or nanosecond) → [{ seconds, fraction, length, data }]. */
function readPcap(buf) {
  const magic = buf.readUInt32LE(0);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error(`not a little-endian pcap file (magic ${magic.toString(16)})`);
  const packets = [];
  for (let off = 24; off + 16 <= buf.length;) {
    const caplen = buf.readUInt32LE(off + 8);
    const length = buf.readUInt32LE(off + 12);
    packets.push({
      seconds: buf.readUInt32LE(off),
      fraction: buf.readUInt32LE(off + 4),
      length,
      data: buf.subarray(off + 16, off + 16 + caplen),
    });
    off += 16 + caplen;
  }
  return packets;
}

/** Runs a command and resolves with { code, signal, stdout, stderr }. */
function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

module.exports = { startTcpdump, readPcap, run };
