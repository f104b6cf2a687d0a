'use strict';
// What a run prints (the tables, the targets it is held to) and the JSON it writes.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { SENDER_CPU, CAPTURER_CPU, BATCH, CALIB_FRAMES } = require('./measure');
const { SCENARIOS } = require('./options');
const { which, version } = require('./setup');
const { median } = require('./statistics');

const ROOT = path.join(__dirname, '..', '..');

const fmtInt = (x) => (x == null ? '–' : Math.round(x).toLocaleString('en-US'));
const fmtK = (x) => (x == null ? '–' : x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${Math.round(x / 1e3)}k`);
const fmtPct = (x) => (x == null ? '–' : x === 1 ? '100%' : `${(Math.floor(x * 10000) / 100).toFixed(2)}%`);
const fmtX = (x) => (x == null ? '–' : `${x.toFixed(2)}×`);
const fmtSigned = (x) => (x == null ? '–' : `${x >= 0 ? '+' : '−'}${fmtInt(Math.abs(x))}`);
const fmtRange = (r, f) => (r && r[0] !== r[1] ? ` [${f(r[0])}–${f(r[1])}]` : '');

function table(header, rows) {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => '| ' + cells.map((c, i) => (i < 2 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join(' | ') + ' |';
  return [
    line(header),
    '|' + w.map((n, i) => (i < 2 ? ':' : '-') + '-'.repeat(n) + (i < 2 ? '-' : ':')).join('|') + '|',
    ...rows.map(line),
  ].join('\n');
}

function printMain(summary) {
  const header = [
    'scenario',
    'capturer',
    'send pps',
    'kept of bare',
    'captured',
    'drops',
    'capturer ns/pkt',
    '× tcpdump',
    'sender ns/pkt',
    'kernel-side Δ ns/pkt',
    'Δ × tcpdump',
  ];
  const rows = summary.map((s) => [
    s.scenario,
    s.capturer,
    fmtK(s.sendPps),
    s.keptOfBare == null ? '' : s.keptOfBare.toFixed(2),
    fmtPct(s.captureRatio) +
      (s.captureRatioMin != null && s.captureRatioMin !== s.captureRatio ? ` (min ${fmtPct(s.captureRatioMin)})` : ''),
    s.capturer === 'none' ? '' : fmtInt(s.dropped) + (s.droppedMax && s.droppedMax !== s.dropped ? ` (max ${fmtInt(s.droppedMax)})` : ''),
    s.capturer === 'none' ? '' : fmtInt(s.capturerNsPerPkt) + fmtRange(s.capturerNsPerPktRange, fmtInt),
    s.cpuVsTcpdump == null ? '' : fmtX(s.cpuVsTcpdump),
    fmtInt(s.senderNsPerPkt),
    s.capturer === 'none' ? '' : fmtSigned(s.senderDeltaNsPerPkt) + fmtRange(s.senderDeltaRange, fmtSigned),
    s.deltaVsTcpdump == null ? '' : fmtX(s.deltaVsTcpdump),
  ]);
  console.log(table(header, rows));
}

// issue 12's and issue 21's targets: each as the measured ratio against tcpdump's in the same run.
const TARGETS = [
  {
    what: '`zeroCopy`, `for (const pkt of batch)`, CPU × tcpdump',
    capturers: ['tapwire-raw-zc-packets'],
    limits: { '64B-max': 1.0, '64B-300k': 1.0, '64B-100k': 1.0, '1400B-max': 0.8 },
  },
  {
    what: '`zeroCopy`, accessors, CPU × tcpdump',
    capturers: ['tapwire-raw-zc'],
    limits: { '64B-max': 0.7, '64B-300k': 0.8, '64B-100k': 0.8, '1400B-max': 0.6 },
  },
  {
    what: '`for (const pkt of batch)`, CPU × tcpdump',
    capturers: ['tapwire-raw-packets', 'tapwire-ebpf-packets'],
    limits: { '64B-max': 1.2, '64B-300k': 1.5, '64B-100k': 1.5, '1400B-max': 1.2 },
  },
  {
    what: 'accessors, CPU × tcpdump',
    capturers: ['tapwire-raw', 'tapwire-ebpf'],
    limits: { '64B-max': 1.0, '64B-300k': 1.3, '64B-100k': 1.3, '1400B-max': 1.2 },
  },
];

function targetRows(summary, memory, runs, latency) {
  const rows = [];
  const at = (sc, cap) => summary.find((s) => s.scenario === sc && s.capturer === cap);
  const verdict = (x, limit) => (x == null ? '–' : x <= limit ? 'met' : 'not met');
  for (const t of TARGETS) {
    for (const [sc, limit] of Object.entries(t.limits)) {
      for (const cap of t.capturers) {
        const x = at(sc, cap)?.cpuVsTcpdump;
        if (x != null) rows.push([t.what, `${sc} ${cap}`, fmtX(x), `≤ ${limit.toFixed(1)}×`, verdict(x, limit)]);
      }
    }
  }
  for (const sc of Object.keys(SCENARIOS)) {
    for (const mode of ['', '-packets']) {
      const e = at(sc, `tapwire-ebpf${mode}`)?.capturerNsPerPkt;
      const r = at(sc, `tapwire-raw${mode}`)?.capturerNsPerPkt;
      if (e && r)
        rows.push([
          "eBPF user-space CPU × raw-socket's",
          `${sc} ${mode ? 'packets' : 'accessors'}`,
          fmtX(e / r),
          '≤ 1.0×',
          verdict(e / r, 1),
        ]);
    }
  }
  const kernel = at('1400B-max', 'tapwire-ebpf')?.deltaVsTcpdump;
  if (kernel != null) rows.push(['eBPF kernel-side Δ × tcpdump', '1400B-max tapwire-ebpf', fmtX(kernel), '≤ 1.0×', verdict(kernel, 1)]);
  for (const r of memory.filter((m) => !m.capturer.endsWith('-idle') && m.vmHwmKb)) {
    const mib = r.vmHwmKb / 1024;
    // issue 21: a zero-copy capture holds no batch memory of its own.
    const limit = r.capturer.includes('-zc') ? 64 : 96;
    rows.push([
      `peak RSS, ${fmtInt(r.count)} frames at max, keeping up`,
      r.capturer,
      `${mib.toFixed(1)} MiB`,
      `≤ ${limit} MiB`,
      verdict(mib, limit),
    ]);
  }
  // Never reading: the queue stops taking batches once it holds highWaterMark bytes, so
  // the peak is what the process had before opening, plus the ring's mappings, plus
  // highWaterMark of batches and the one that crossed it (with default options a batch
  // is at most 2 MiB: an eBPF batch's ring share, a raw-socket block and its records).
  const ONE_BATCH_KB = 2048;
  for (const r of memory.filter((m) => m.capturer.endsWith('-idle') && m.vmHwmKb)) {
    const { baseline_kb: base, ring_kb: ring, hwm_kb: hwm } = r.capturerExtra ?? {};
    if (base == null || ring == null || hwm == null) continue;
    const mib = (kb) => (kb / 1024).toFixed(1);
    rows.push([
      `peak RSS, ${fmtInt(r.count)} frames at max, never reading`,
      r.capturer.replace(/-idle$/, ''),
      `${mib(r.vmHwmKb)} MiB`,
      `≤ ${mib(base + ring + hwm + ONE_BATCH_KB)} MiB (${mib(base)} baseline + ${mib(ring)} ring + ${mib(hwm)} highWaterMark + one batch)`,
      verdict(r.vmHwmKb, base + ring + hwm + ONE_BATCH_KB),
    ]);
  }
  for (const cap of ['tapwire-raw', 'tapwire-ebpf']) {
    const open = median(runs.filter((r) => r.capturer === cap).map((r) => r.openMs));
    if (open != null) rows.push(['open to attached, fresh process (median)', cap, `${open.toFixed(1)} ms`, '≤ 100 ms', verdict(open, 100)]);
  }
  if (latency.length) {
    // The bound is openCapturer's default batchTimeout, as the latency runs use it.
    const bound = require(path.join(ROOT, 'dist', 'options')).resolveOptions({}).batchTimeout;
    for (const r of latency) {
      const p99 = r.capturerExtra?.p99_us;
      if (p99 != null && p99 >= 0)
        rows.push([
          `p99 delivery latency ≤ batchTimeout (${bound} ms)`,
          `${r.scenario} ${r.capturer}`,
          `${(p99 / 1000).toFixed(2)} ms`,
          `≤ ${bound} ms`,
          verdict(p99 / 1000, bound),
        ]);
    }
  }
  return rows;
}

function printTargets(summary, memory, runs, latency) {
  const rows = targetRows(summary, memory, runs, latency);
  if (rows.length) console.log(table(['target', 'where', 'measured', 'target', ''], rows));
}

function printLatency(rows) {
  const header = ['scenario', 'capturer', 'sent', 'captured', 'p50', 'p99', 'max'];
  const us = (x) => (x == null || x < 0 ? '–' : x >= 1000 ? `${(x / 1000).toFixed(2)} ms` : `${x} µs`);
  console.log(
    table(
      header,
      rows.map((r) => [
        r.scenario,
        r.capturer.replace(/-latency$/, ''),
        fmtInt(r.sent),
        fmtPct(r.captureRatio),
        us(r.capturerExtra?.p50_us),
        us(r.capturerExtra?.p99_us),
        us(r.capturerExtra?.max_us),
      ]),
    ),
  );
  console.log("latency: from each packet's capture timestamp to the loop that reads it, default options (10 µs buckets).");
}

function printMemory(mem) {
  const header = ['scenario', 'capturer', 'sent', 'send pps', 'captured', 'drops', 'capturer ns/pkt', 'peak RSS (VmHWM)'];
  const rows = mem.map((r) => [
    `${fmtInt(r.count)} × 64B max`,
    `${r.capturer.replace(/-idle$/, '')} ${r.capturer.endsWith('-idle') ? '(never reads)' : '(keeps up)'}`,
    fmtInt(r.sent),
    fmtK(r.sendPps),
    r.capturer.endsWith('-idle') ? `${fmtInt(r.captured)} held` : fmtPct(r.captureRatio),
    fmtInt(r.dropped),
    r.capturer.endsWith('-idle') ? '' : fmtInt(r.capturerNsPerPkt),
    r.vmHwmKb ? `${(r.vmHwmKb / 1024).toFixed(1)} MiB` : '–',
  ]);
  console.log(table(header, rows));
}

/** The report on stdout: the run's setting, then each table this run has rows for. */
function printReport({ started, opts, summary, memory, latency, runs, reproduce }) {
  console.log('');
  console.log(
    `tapwire capture benchmark, ${started.toISOString()}: ${os.cpus().length} CPUs (${os.cpus()[0]?.model?.trim()}), Linux ${os.release()}, Node ${process.version}`,
  );
  console.log(
    `sender (framegen, sendmmsg ×${BATCH}) on CPU ${SENDER_CPU}, capturer on CPU ${CAPTURER_CPU}, veth between two namespaces, filter "udp"` +
      (summary.length ? `; ${fmtInt(opts.count)} frames per run, medians of ${opts.reps} rep(s) [min–max]` : ''),
  );
  if (summary.length) {
    console.log('');
    printMain(summary);
    console.log('');
    console.log('kept of bare: achieved send rate ÷ that of a 100k-frame burst without capturer just before (max rate only).');
    console.log("kernel-side Δ: sender CPU ns/pkt minus that of the same repetition's run without capturer (the receive path,");
    console.log("capture taps included, runs in the sender's softirq on a veth pair). × tcpdump: paired per repetition.");
  }
  if (memory.length) {
    console.log('');
    printMemory(memory);
  }
  if (latency.length) {
    console.log('');
    printLatency(latency);
  }
  if (summary.length || memory.length || latency.length) {
    console.log('');
    console.log('targets (issue 12), each measured in this run:');
    printTargets(summary, memory, runs, latency);
  }
  const errs = [...runs, ...memory].flatMap((r) => r.errors.map((e) => `${r.scenario} ${r.capturer} rep ${r.rep}: ${e}`));
  if (errs.length) {
    console.log('');
    console.log('problems:');
    for (const e of errs) console.log(`  ${e}`);
  }
  console.log('');
  console.log(`reproduce (from the repository root): ${reproduce}`);
}

/** Every run's numbers, the summary and the setting, as JSON in `opts.json`. */
function writeResults({ started, opts, scenarios, capturers, skipped, summary, memory, latency, runs, reproduce }) {
  const result = {
    schema: 'tapwire-bench/1',
    started: started.toISOString(),
    finished: new Date().toISOString(),
    reproduce,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model?.trim() ?? null,
      kernel: os.release(),
      node: process.version,
      tcpdump: which('tcpdump') ? version('tcpdump', ['--version'], /tcpdump version (\S+)/) : null,
      libpcap: which('tcpdump') ? version('tcpdump', ['--version'], /libpcap version (\S+)/) : null,
    },
    config: {
      count: opts.count,
      reps: opts.reps,
      scenarios,
      capturers,
      skipped,
      memoryCount: opts.memory !== 'no' ? opts.memoryCount : null,
      senderCpu: SENDER_CPU,
      capturerCpu: CAPTURER_CPU,
      sendBatch: BATCH,
      calibrationFrames: CALIB_FRAMES,
      filter: 'udp',
    },
    summary,
    memory,
    latency,
    runs,
  };
  fs.mkdirSync(path.dirname(opts.json), { recursive: true });
  fs.writeFileSync(opts.json, JSON.stringify(result, null, 2) + '\n');
  console.log(`results: ${path.relative(process.cwd(), opts.json) || opts.json}`);
}

module.exports = { fmtInt, fmtK, fmtPct, printReport, writeResults };
