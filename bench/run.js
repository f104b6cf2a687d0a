#!/usr/bin/env node
'use strict';
/*
 * tapwire capture benchmark: `npm run bench` (as root; see bench/README.md).
 *
 * Two network namespaces joined by a veth pair; bench/framegen.c sends an exact
 * number of Ethernet/IPv4/UDP frames from one to the other while one capturer at a
 * time listens on the receiving end. Every capturer sees the same traffic; the
 * sender is pinned to CPU 0, the capturer to CPU 1. Addresses are in 198.18.0.0/15
 * (RFC 2544's benchmarking range) and exist only inside the two namespaces.
 *
 * Per run it measures: frames captured of frames sent, drops the capturer reports,
 * the capturer's own CPU per packet (all its threads, schedstat, from "ready" to the
 * end of its drain), the sender's CPU per packet (on a veth pair the receive path,
 * capture taps included, runs in the sender's softirq: its growth over a run
 * without capturer is the kernel-side cost of capturing) and, at max rate, the
 * achieved send rate and its share of a bare (no capturer) burst sent just before.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { log, fail } = require('./harness/log');
const { SCENARIOS, parseArgs } = require('./harness/options');
const { NS_S, NS_R, IP_R, PORT, removeStaleNamespaces, setupNetwork, removeNamespaces } = require('./harness/namespaces');
const { start, killGroup, stop, waitFor, killAll } = require('./harness/processes');
const { runOne } = require('./harness/measure');
const { summarize } = require('./harness/statistics');
const { fmtInt, fmtK, fmtPct, printReport, writeResults } = require('./harness/report');
const { ensureTapwireBuilt, ensureCap, which } = require('./harness/setup');

let work = null;
let keepWork = false;
let cleaned = false;

function cleanup() {
  if (cleaned) return;
  cleaned = true;
  killAll();
  removeNamespaces();
  if (work) {
    if (keepWork) log(`work folder kept: ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  keepWork = opts.keep;
  if (os.platform() !== 'linux') fail('Linux only');
  if (process.getuid() !== 0) fail('run as root: it creates network namespaces and opens packet sockets');
  if (os.cpus().length < 2) fail('needs 2 CPUs (sender on CPU 0, capturer on CPU 1)');
  for (const t of ['ip', 'taskset', 'cc'])
    if (!which(t)) fail(`${t} not found (apt-get install ${t === 'cc' ? 'gcc' : t === 'ip' ? 'iproute2' : 'util-linux'})`);

  const skipped = {};
  if (opts.capturers.includes('tcpdump') && !which('tcpdump')) skipped.tcpdump = 'tcpdump not found (apt-get install tcpdump)';
  if (opts.capturers.includes('cap')) {
    const why = ensureCap();
    if (why) skipped.cap = why;
  }
  for (const [c, why] of Object.entries(skipped)) log(`skipping ${c}: ${why}`);
  const capturers = opts.capturers.filter((c) => !skipped[c]);
  const scenarios = opts.memory === 'only' ? [] : opts.scenarios;
  if (capturers.some((c) => c.startsWith('tapwire')) || opts.memory !== 'no') ensureTapwireBuilt(opts.build);

  process.on('SIGINT', () => {
    log('interrupted: cleaning up');
    cleanup();
    process.exit(130);
  });
  process.on('SIGTERM', () => {
    cleanup();
    process.exit(143);
  });
  process.on('SIGHUP', () => {
    cleanup();
    process.exit(129);
  });
  process.on('exit', cleanup);

  removeStaleNamespaces();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwire-bench-'));
  const framegen = path.join(work, 'framegen');
  execFileSync('cc', ['-O2', '-Wall', '-o', framegen, path.join(__dirname, 'framegen.c')], { stdio: ['ignore', 2, 2], timeout: 60_000 });
  setupNetwork();
  const sink = start(['ip', 'netns', 'exec', NS_R, framegen, 'sink', IP_R, String(PORT)], { name: 'sink' });
  if (!(await waitFor(sink, /^ready/m, 5000))) throw new Error(`UDP sink did not start: ${sink.err}`);
  const logDir = opts.keep ? work : null;

  const started = new Date();
  const total = opts.reps * scenarios.length * capturers.length;
  log(
    `${capturers.join(', ')} × ${scenarios.join(', ')} × ${opts.reps} rep(s), ${fmtInt(opts.count)} frames each` +
      (opts.memory !== 'no' ? `; memory: ${fmtInt(opts.memoryCount)} frames` : '') +
      ` (namespaces ${NS_S}, ${NS_R})`,
  );

  // Repetitions outermost, capturers innermost: a slow stretch of the shared host
  // hits every capturer of a scenario alike.
  const runs = [];
  let n = 0;
  for (let rep = 1; rep <= opts.reps; rep++) {
    for (const name of scenarios) {
      for (const capturer of capturers) {
        n++;
        const scenario = { ...SCENARIOS[name], name };
        const r = await runOne({ framegen, capturer, scenario, count: opts.count, rep, logDir });
        runs.push(r);
        log(
          `[${n}/${total}] rep ${rep} ${name.padEnd(9)} ${capturer.padEnd(15)} ${fmtK(r.sendPps).padStart(6)} pps` +
            (r.keptOfBare ? ` (${r.keptOfBare.toFixed(2)} of bare)` : '') +
            ` | captured ${fmtPct(r.captureRatio)}, drops ${fmtInt(r.dropped)}` +
            (r.capturerNsPerPkt ? ` | capturer ${fmtInt(r.capturerNsPerPkt)} ns/pkt` : '') +
            ` | sender ${fmtInt(r.senderNsPerPkt)} ns/pkt` +
            (r.errors.length ? ` | ${r.errors.join('; ')}` : ''),
        );
      }
    }
  }

  const memory = [];
  if (opts.memory !== 'no') {
    for (const capturer of ['tapwire-ebpf', 'tapwire-ebpf-idle', 'tapwire-raw', 'tapwire-raw-zc', 'tapwire-raw-idle']) {
      const scenario = { ...SCENARIOS['64B-max'], name: 'memory-64B-max' };
      const r = await runOne({ framegen, capturer, scenario, count: opts.memoryCount, rep: 1, logDir });
      memory.push(r);
      log(
        `[memory] ${capturer.padEnd(13)} ${fmtK(r.sendPps)} pps | captured ${fmtInt(r.captured)}, drops ${fmtInt(r.dropped)} | VmHWM ${r.vmHwmKb ? (r.vmHwmKb / 1024).toFixed(1) + ' MiB' : '–'}` +
          (r.errors.length ? ` | ${r.errors.join('; ')}` : ''),
      );
    }
  }

  // Delivery latency: a packet's capture timestamp to the consumer's loop, default options.
  const latency = [];
  if (opts.latency && opts.memory !== 'only') {
    for (const [rate, count] of [
      [1000, 5000],
      [0, opts.count],
    ]) {
      for (const capturer of ['tapwire-ebpf-latency', 'tapwire-raw-latency']) {
        const scenario = { len: 60, rate, name: `latency-64B-${rate ? '1k' : 'max'}` };
        const r = await runOne({ framegen, capturer, scenario, count, rep: 1, logDir });
        latency.push(r);
        log(
          `[latency] ${scenario.name} ${capturer.padEnd(20)} captured ${fmtPct(r.captureRatio)} | p50 ${r.capturerExtra?.p50_us} µs, p99 ${r.capturerExtra?.p99_us} µs, max ${r.capturerExtra?.max_us} µs` +
            (r.errors.length ? ` | ${r.errors.join('; ')}` : ''),
        );
      }
    }
  }

  killGroup(sink, 'SIGTERM');
  await stop(sink, 3000);

  const summary = summarize(runs, scenarios, capturers);
  const argsText = process.argv.slice(2).join(' ');
  const reproduce = `sudo npm run bench${argsText ? ` -- ${argsText}` : ''}   # or, as root: node bench/run.js ${argsText}`.trimEnd();
  printReport({ started, opts, summary, memory, latency, runs, reproduce });
  writeResults({ started, opts, scenarios, capturers, skipped, summary, memory, latency, runs, reproduce });
}

main().then(
  () => {
    cleanup();
    process.exit(0);
  },
  (err) => {
    console.error(`bench: ${err && err.stack ? err.stack : err}`);
    cleanup();
    process.exit(1);
  },
);
