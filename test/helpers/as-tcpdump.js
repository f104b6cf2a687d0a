'use strict';
// A capture file as tcpdump (libpcap) reads it and as a replay reads it, in one form,
// for tests and for scripts/files-vs-tcpdump.js. tcpdump is asked to write what it
// read (`tcpdump -r FILE -w OUT [EXPRESSION]`): OUT holds each record as libpcap
// handed it over (time, captured and original length, bytes), in this host's byte order.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer } = require('../..');
const { readPcap } = require('./tools');

const TIMEOUT_MS = 60_000;

/**
 * What tcpdump reads: { records: [{ seconds, fraction, caplen, length, data }], error }.
 * `nano`: timestamps in nanoseconds (else libpcap's default, microseconds); `filter`: an expression.
 */
function tcpdumpReads(file, { filter = '', nano = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-tcpdump-'));
  try {
    const out = path.join(dir, 'read.pcap');
    const args = ['-r', file, '-w', out, ...(nano ? ['--time-stamp-precision=nano'] : []), ...(filter ? [filter] : [])];
    const r = spawnSync('tcpdump', args, { encoding: 'utf8', timeout: TIMEOUT_MS });
    const error = r.status === 0 ? null : (r.stderr.split('\n').find((l) => l.startsWith('tcpdump:')) ?? `tcpdump exit ${r.status}`);
    const records = fs.existsSync(out)
      ? readPcap(fs.readFileSync(out)).map((p) => ({
          seconds: p.seconds,
          fraction: p.fraction,
          caplen: p.data.length,
          length: p.length,
          data: p.data,
        }))
      : [];
    return { records, error };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** What openCapturer({ file, filter }) gives, in tcpdump's form (32-bit fields, the same timestamp precision). */
async function replayReads(file, { filter = '', nano = false } = {}) {
  const records = [];
  let error = null;
  try {
    const cap = await openCapturer({ file, filter, signal: AbortSignal.timeout(TIMEOUT_MS) });
    try {
      for await (const batch of cap) {
        for (let i = 0; i < batch.length; i++) {
          const ns = batch.nanosecondsAt(i);
          records.push({
            seconds: batch.secondsAt(i) % 2 ** 32,
            fraction: (nano ? ns : Math.floor(ns / 1000)) % 2 ** 32,
            caplen: batch.capturedLengthAt(i),
            length: batch.lengthAt(i),
            data: batch.dataAt(i),
          });
        }
      }
    } finally {
      await cap.close();
    }
  } catch (err) {
    error = `${err.code ?? err.name}: ${err.message}`;
  }
  return { records, error };
}

/** The first way two readings differ, or null when they agree (packets, then whether each ended in an error). */
function difference(theirs, ours) {
  const n = Math.min(theirs.records.length, ours.records.length);
  for (let i = 0; i < n; i++) {
    const a = theirs.records[i];
    const b = ours.records[i];
    for (const key of ['seconds', 'fraction', 'caplen', 'length']) {
      if (a[key] !== b[key]) return `record ${i + 1}: ${key} ${a[key]} (tcpdump) vs ${b[key]}`;
    }
    if (!a.data.equals(b.data)) return `record ${i + 1}: the bytes differ`;
  }
  if (theirs.records.length !== ours.records.length) return `${theirs.records.length} records (tcpdump) vs ${ours.records.length}`;
  if (!theirs.error !== !ours.error) return `error: ${theirs.error ?? 'none'} (tcpdump) vs ${ours.error ?? 'none'}`;
  return null;
}

const BIN = path.join(__dirname, '..', '..', 'bin', 'tapwire.js');

/**
 * How many packet lines `tcpdump -n -r FILE` and `tapwire capture -n -r FILE` print:
 * lines that start with a time, or with tcpdump's bracketed word for a record it cannot
 * show (`[Invalid header: ...]`); tcpdump goes on with some packets on further lines
 * (hex, an encapsulated packet).
 */
function packetLines(file) {
  const count = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 1 << 28 });
    return r.stdout.split('\n').filter((l) => /^(\d\d:\d\d:\d\d\.\d+ |\[)/.test(l)).length;
  };
  return { tcpdump: count('tcpdump', ['-n', '-r', file]), tapwire: count(process.execPath, [BIN, 'capture', '-n', '-r', file]) };
}

module.exports = { tcpdumpReads, replayReads, difference, packetLines };
