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
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const NODE = process.execPath;

// ---------------------------------------------------------------- options ----

const SCENARIOS = {
  '64B-max': { len: 60, rate: 0, title: '64-byte frames, max rate' },
  '64B-300k': { len: 60, rate: 300000, title: '64-byte frames, 300k/s' },
  '64B-100k': { len: 60, rate: 100000, title: '64-byte frames, 100k/s' },
  '1400B-max': { len: 1400, rate: 0, title: '1400-byte frames, max rate' },
};
// tapwire-BACKEND[-packets|-reject]: accessors or Packet objects; -reject runs a filter
// that matches none of the traffic (the kernel-side cost of rejected packets);
// tapwire-ebpf-attribution reads as tapwire-ebpf with `attribution: true`;
// -headers reads every packet's addresses and ports through a header view, -flows
// tracks flows (bench/conversations.js runs these).
const CAPTURERS = [
  'none',
  'tcpdump',
  'cap',
  'tapwire-ebpf',
  'tapwire-raw',
  'tapwire-ebpf-packets',
  'tapwire-raw-packets',
  'tcpdump-reject',
  'tapwire-ebpf-reject',
  'tapwire-ebpf-attribution',
  'tapwire-ebpf-headers',
  'tapwire-raw-headers',
  'tapwire-ebpf-flows',
  'tapwire-raw-flows',
];
const REJECT_FILTER = 'udp port 7';

function usage() {
  return `usage: node bench/run.js [options]        (as root; npm run bench -- [options])

  --count N           frames per run (default 1000000)
  --reps N            repetitions; medians are reported (default 3)
  --quick             smoke run: 200000 frames, 1 repetition, 1M-frame memory check
  --scenarios LIST    comma-separated, from ${Object.keys(SCENARIOS).join(',')}
  --capturers LIST    comma-separated, from ${CAPTURERS.join(',')} ('none' is always run)
  --memory            run only the memory scenario
  --no-memory         skip the memory scenario
  --memory-count N    frames of the memory scenario (default 10000000)
  --no-latency        skip the latency runs (64-byte frames at 1k/s and at max, each backend)
  --json FILE         where to write the results (default bench/results/latest.json)
  --keep              keep the work folder with every run's output
  --build             run npm run build:all first (by default a missing build is an error
                      and a build older than lib/ or native/ only a warning)
  -h, --help          this text`;
}

function parseArgs(argv) {
  const o = {
    count: 1_000_000,
    reps: 3,
    scenarios: Object.keys(SCENARIOS),
    // The conversation layer's loops run from bench/conversations.js.
    capturers: CAPTURERS.filter((c) => !/-(headers|flows)$/.test(c)),
    memory: 'also',
    latency: true,
    memoryCount: 10_000_000,
    json: path.join(__dirname, 'results', 'latest.json'),
    keep: false,
    build: false,
  };
  const set = new Set();
  const int = (name, v) => {
    if (!/^\d+$/.test(v ?? '') || Number(v) < 1) fail(`${name} takes a positive integer`);
    return Number(v);
  };
  const list = (name, v, known) => {
    const l = (v ?? '').split(',').filter(Boolean);
    for (const x of l) if (!known.includes(x)) fail(`${name}: unknown '${x}' (known: ${known.join(', ')})`);
    if (!l.length) fail(`${name} takes a list`);
    return l;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--count':
        o.count = int(a, argv[++i]);
        set.add('count');
        break;
      case '--reps':
        o.reps = int(a, argv[++i]);
        set.add('reps');
        break;
      case '--quick':
        o.quick = true;
        break;
      case '--scenarios':
        o.scenarios = list(a, argv[++i], Object.keys(SCENARIOS));
        break;
      case '--capturers':
        o.capturers = list(a, argv[++i], CAPTURERS);
        break;
      case '--memory':
        o.memory = 'only';
        break;
      case '--no-memory':
        o.memory = 'no';
        break;
      case '--no-latency':
        o.latency = false;
        break;
      case '--memory-count':
        o.memoryCount = int(a, argv[++i]);
        set.add('memoryCount');
        break;
      case '--json':
        o.json = path.resolve(argv[++i] ?? fail('--json takes a file'));
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--build':
        o.build = true;
        break;
      case '-h':
      case '--help':
        console.log(usage());
        process.exit(0);
        break;
      default:
        fail(`unknown option ${a}\n${usage()}`);
    }
  }
  if (o.quick) {
    if (!set.has('count')) o.count = 200_000;
    if (!set.has('reps')) o.reps = 1;
    if (!set.has('memoryCount')) o.memoryCount = 1_000_000;
  }
  if (!o.capturers.includes('none')) o.capturers.unshift('none');
  o.capturers = CAPTURERS.filter((c) => o.capturers.includes(c)); // fixed order, none first
  return o;
}

function fail(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}
const log = (msg) => console.error(`bench: ${msg}`);

// ---------------------------------------------------------------- topology ---

const NS_S = `twbs-${process.pid}`;
const NS_R = `twbr-${process.pid}`;
const IF_S = 'twbs0';
const IF_R = 'twbr0';
const MAC_S = '02:74:77:62:00:01';
const MAC_R = '02:74:77:62:00:02';
const IP_S = '198.18.0.1';
const IP_R = '198.18.0.2';
const PORT = 9; // discard
const SENDER_CPU = 0;
const CAPTURER_CPU = 1;
const BATCH = 64;
const CALIB_FRAMES = 100_000;
const SETTLE_MS = 300;

const children = new Set(); // every process we started that may still run
let work = null;
let keepWork = false;
let cleaned = false;

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}
const ipn = (ns, ...args) => run('ip', ['-n', ns, ...args]);
const nsExec = (ns, ...args) => run('ip', ['netns', 'exec', ns, ...args]);

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function removeStaleNamespaces() {
  let names = [];
  try {
    names = run('ip', ['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0]);
  } catch {
    return;
  }
  for (const ns of names) {
    const m = /^twb[sr]-(\d+)$/.exec(ns);
    if (!m || alive(Number(m[1]))) continue;
    log(`removing namespace ${ns} left by an earlier run (pid ${m[1]} is gone)`);
    try {
      // only processes an earlier run of this benchmark started live in it
      for (const p of run('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      run('ip', ['netns', 'del', ns]);
    } catch (e) {
      log(`could not remove ${ns}: ${e.message}`);
    }
  }
}

function setupNetwork() {
  run('ip', ['netns', 'add', NS_S]);
  run('ip', ['netns', 'add', NS_R]);
  for (const ns of [NS_S, NS_R]) {
    // No IPv6: no neighbour discovery, router solicitation or MLD frames, so the
    // only frames on the link are the ones the generator counted.
    nsExec(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    ipn(ns, 'link', 'set', 'lo', 'up');
  }
  ipn(NS_S, 'link', 'add', IF_S, 'address', MAC_S, 'type', 'veth', 'peer', 'name', IF_R, 'netns', NS_R, 'address', MAC_R);
  for (const [ns, dev] of [
    [NS_S, IF_S],
    [NS_R, IF_R],
  ]) {
    nsExec(ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`);
  }
  ipn(NS_S, 'addr', 'add', `${IP_S}/30`, 'dev', IF_S);
  ipn(NS_R, 'addr', 'add', `${IP_R}/30`, 'dev', IF_R);
  // Static neighbours: no ARP exchange on the link, ever.
  ipn(NS_S, 'neigh', 'replace', IP_R, 'lladdr', MAC_R, 'dev', IF_S, 'nud', 'permanent');
  ipn(NS_R, 'neigh', 'replace', IP_S, 'lladdr', MAC_S, 'dev', IF_R, 'nud', 'permanent');
  ipn(NS_S, 'link', 'set', IF_S, 'up');
  ipn(NS_R, 'link', 'set', IF_R, 'up');
}

function linkCounters(ns, dev) {
  const j = JSON.parse(ipn(ns, '-s', '-j', 'link', 'show', 'dev', dev))[0].stats64;
  return { rx: j.rx.packets, rxDropped: j.rx.dropped, tx: j.tx.packets, txDropped: j.tx.dropped };
}

// ---------------------------------------------------------------- processes --

/** Starts a process in its own session (a terminal's ^C reaches only us). */
function start(args, { env, name }) {
  const proc = spawn(args[0], args.slice(1), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const c = { proc, name, pid: proc.pid, out: '', err: '', code: undefined };
  children.add(c);
  proc.stdout.setEncoding('utf8').on('data', (d) => {
    c.out += d;
  });
  proc.stderr.setEncoding('utf8').on('data', (d) => {
    c.err += d;
  });
  c.exited = new Promise((resolve) => {
    proc.on('error', (e) => {
      c.err += `\nspawn error: ${e.message}`;
    });
    proc.on('close', (code, signal) => {
      c.code = code ?? signal;
      children.delete(c);
      resolve(c.code);
    });
  });
  return c;
}

function killGroup(c, sig) {
  try {
    process.kill(-c.pid, sig);
  } catch {
    /* gone */
  }
}

async function stop(c, graceMs) {
  if (c.code !== undefined) return;
  const t = setTimeout(() => killGroup(c, 'SIGKILL'), graceMs);
  await c.exited;
  clearTimeout(t);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(c, re, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (re.test(c.out) || re.test(c.err)) return true;
    if (c.code !== undefined) return false;
    await sleep(20);
  }
  return false;
}

/** ns of CPU of every thread of a process: Map tid → ns (schedstat, ns-exact). */
function threadCpu(pid) {
  const m = new Map();
  let tids = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return m;
  }
  for (const t of tids) {
    try {
      m.set(t, Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      /* exited */
    }
  }
  return m;
}
function cpuSince(before, after) {
  let ns = 0;
  for (const [t, v] of after) ns += v - (before.get(t) ?? 0);
  return ns;
}
function vmHwmKb(pid) {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function kv(text) {
  const o = {};
  for (const m of text.matchAll(/(\w+)=(-?\d+(?:\.\d+)?)/g)) o[m[1]] = Number(m[2]);
  return o;
}

// ---------------------------------------------------------------- capturers --

function capturerSpec(name, framegen) {
  const node = (script, ...args) => [NODE, path.join(__dirname, 'capturers', script), ...args];
  switch (name) {
    case 'tcpdump':
      // libpcap's TPACKET_V3 blocks time out after tcpdump's 1 s; the kernel retires
      // a partly filled block within two timeouts.
      return { cmd: ['tcpdump', '-i', IF_R, '-nn', '-w', '/dev/null', 'udp'], ready: /listening on/, minDrainMs: 2200 };
    case 'cap':
      return { cmd: node('cap.js', IF_R, 'udp'), ready: /^ready/m, minDrainMs: 300, env: { TWB_FRAMEGEN: framegen } };
    case 'tcpdump-reject':
      return { cmd: ['tcpdump', '-i', IF_R, '-nn', '-w', '/dev/null', REJECT_FILTER], ready: /listening on/, minDrainMs: 2200 };
    default: {
      const m = /^tapwire-(ebpf|raw)(?:-(packets|reject|idle|latency|attribution|headers|flows))?$/.exec(name);
      if (!m) throw new Error(`unknown capturer ${name}`);
      const backend = m[1] === 'raw' ? 'raw-socket' : 'ebpf';
      const mode = ['packets', 'idle', 'latency', 'headers', 'flows'].includes(m[2]) ? m[2] : 'accessors';
      const filter = m[2] === 'reject' ? REJECT_FILTER : 'udp';
      const env = m[2] === 'attribution' ? { TWB_ATTRIBUTION: '1' } : undefined;
      return { cmd: node('tapwire.js', mode, backend, IF_R, filter), ready: /^ready/m, minDrainMs: 300, env };
    }
  }
}

function parseCapturer(name, c) {
  if (name.startsWith('tcpdump')) {
    const num = (re) => {
      const m = re.exec(c.err);
      return m ? Number(m[1]) : null;
    };
    return {
      captured: num(/^(\d+) packets? captured/m),
      dropped: num(/^(\d+) packets? dropped by kernel/m),
      extra: { receivedByFilter: num(/^(\d+) packets? received by filter/m) },
    };
  }
  const line = `${c.out}\n${c.err}`
    .split('\n')
    .reverse()
    .find((l) => /\bcaptured=\d+/.test(l));
  if (!line) return { captured: null, dropped: null, extra: {} };
  const v = kv(line);
  const { captured, dropped, ...extra } = v;
  return { captured, dropped: dropped >= 0 ? dropped : null, extra };
}

// ---------------------------------------------------------------- sending ----

async function send(framegen, count, rate, len) {
  const limitS = Math.ceil(count / 20000 + (rate ? (count * 3) / rate : 0) + 30);
  const c = start(
    [
      'ip',
      'netns',
      'exec',
      NS_S,
      'taskset',
      '-c',
      String(SENDER_CPU),
      framegen,
      'send',
      IF_S,
      String(count),
      String(rate),
      String(len),
      String(BATCH),
    ],
    { name: 'sender', env: { FG_SRC_MAC: MAC_S, FG_DST_MAC: MAC_R, FG_SRC_IP: IP_S, FG_DST_IP: IP_R, FG_DST_PORT: String(PORT) } },
  );
  const t = setTimeout(() => killGroup(c, 'SIGKILL'), limitS * 1000);
  const code = await c.exited;
  clearTimeout(t);
  const v = kv(c.out);
  if (code !== 0 || v.sent !== count) throw new Error(`sender failed (exit ${code}): ${c.err.trim() || c.out.trim()}`);
  return { sent: v.sent, retries: v.retries, wallNs: v.wall_ns, cpuNs: v.cpu_ns, pps: (v.sent * 1e9) / v.wall_ns };
}

// ---------------------------------------------------------------- one run ----

async function runOne({ framegen, capturer, scenario, count, rep, logDir }) {
  const { len, rate } = scenario;
  const r = { capturer, scenario: scenario.name, rep, count, frameLen: len, rate: rate || 'max', errors: [] };

  // A bare burst from the sender's CPU just before: what this minute's path does
  // without any capturer (cancels most of the host's drift out of the max-rate share).
  if (!rate) {
    const cal = await send(framegen, CALIB_FRAMES, 0, len);
    r.calibPps = cal.pps;
  }

  let c = null;
  let spec = null;
  let cpu0 = null;
  if (capturer !== 'none') {
    spec = capturerSpec(capturer, framegen);
    c = start(['ip', 'netns', 'exec', NS_R, 'taskset', '-c', String(CAPTURER_CPU), ...spec.cmd], { name: capturer, env: spec.env });
    r.command = spec.cmd.map((a) => a.replace(ROOT + '/', '')).join(' ');
    if (!(await waitFor(c, spec.ready, 20_000))) {
      await stop(c, 0).catch(() => {});
      killGroup(c, 'SIGKILL');
      throw new Error(`${capturer} did not get ready: ${(c.err || c.out).trim().slice(-500)}`);
    }
    r.openMs = kv(c.out.split('\n').find((l) => spec.ready.test(l)) ?? '').open_ms; // tapwire's ready line says it
    await sleep(SETTLE_MS);
    cpu0 = threadCpu(c.pid);
  }

  const s0 = linkCounters(NS_S, IF_S);
  const r0 = linkCounters(NS_R, IF_R);
  const snd = await send(framegen, count, rate, len);
  Object.assign(r, { sent: snd.sent, sendRetries: snd.retries, sendWallNs: snd.wallNs, sendPps: snd.pps, senderCpuNs: snd.cpuNs });
  r.senderNsPerPkt = snd.cpuNs / snd.sent;
  if (r.calibPps) r.keptOfBare = snd.pps / r.calibPps;

  if (c) {
    // Drain: wait until the capturer has gone quiet (its CPU stops growing), at least
    // as long as its buffering can hold frames back.
    const t0 = Date.now();
    let prev = cpuSince(cpu0, threadCpu(c.pid));
    let quietSince = Date.now();
    for (;;) {
      await sleep(100);
      const now = cpuSince(cpu0, threadCpu(c.pid));
      if (now - prev > 2e6) quietSince = Date.now();
      prev = now;
      const waited = Date.now() - t0;
      if ((waited >= spec.minDrainMs && Date.now() - quietSince >= 300) || waited > 30_000 || c.code !== undefined) break;
    }
    r.drainMs = Date.now() - t0;
    r.capturerCpuNs = cpuSince(cpu0, threadCpu(c.pid));
    r.vmHwmKbHarness = vmHwmKb(c.pid);
  } else {
    await sleep(200);
  }
  const s1 = linkCounters(NS_S, IF_S);
  const r1 = linkCounters(NS_R, IF_R);
  r.txPackets = s1.tx - s0.tx;
  r.rxPackets = r1.rx - r0.rx;
  r.rxDropped = r1.rxDropped - r0.rxDropped;
  if (r.txPackets !== r.sent) r.errors.push(`generator sent ${r.sent}, ${IF_S} tx_packets grew by ${r.txPackets}`);
  if (r.rxPackets !== r.sent) r.errors.push(`generator sent ${r.sent}, ${IF_R} rx_packets grew by ${r.rxPackets}`);

  if (c) {
    if (c.code !== undefined) r.errors.push(`${capturer} exited early (${c.code}): ${c.err.trim().slice(-300)}`);
    killGroup(c, 'SIGINT');
    await stop(c, 20_000);
    const p = parseCapturer(capturer, c);
    r.captured = p.captured;
    r.dropped = p.dropped;
    r.capturerExtra = p.extra;
    if (p.extra.vmhwm_kb > 0) r.vmHwmKb = p.extra.vmhwm_kb;
    else if (r.vmHwmKbHarness) r.vmHwmKb = r.vmHwmKbHarness;
    if (r.captured == null) r.errors.push(`no captured count from ${capturer}: ${(c.err || c.out).trim().slice(-300)}`);
    if (r.captured && r.capturerCpuNs != null) r.capturerNsPerPkt = r.capturerCpuNs / r.captured;
    if (logDir)
      fs.writeFileSync(
        path.join(logDir, `run-${rep}-${scenario.name}-${capturer}.log`),
        `$ ${r.command}\n--- stdout\n${c.out}\n--- stderr\n${c.err}`,
      );
  } else {
    r.captured = r.rxPackets; // what the link delivered
    r.dropped = 0;
  }
  if (r.captured != null) {
    r.captureRatio = r.captured / r.sent;
    if (r.dropped != null) r.unaccounted = r.sent - r.captured - r.dropped;
  }
  return r;
}

// ---------------------------------------------------------------- summary ----

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
function range(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return v.length ? [Math.min(...v), Math.max(...v)] : null;
}

function summarize(runs, scenarios, capturers) {
  const find = (sc, cap, rep) => runs.find((r) => r.scenario === sc && r.capturer === cap && r.rep === rep);
  const out = [];
  for (const sc of scenarios) {
    for (const cap of capturers) {
      const rs = runs.filter((r) => r.scenario === sc && r.capturer === cap);
      if (!rs.length) continue;
      const pick = (f) => rs.map(f);
      // paired against the same repetition's 'none' and 'tcpdump' runs
      const delta = pick((r) => {
        const n = find(sc, 'none', r.rep);
        return n && cap !== 'none' ? r.senderNsPerPkt - n.senderNsPerPkt : null;
      });
      const tcp = (r) => find(sc, 'tcpdump', r.rep);
      const cpuX = pick((r) => {
        const t = tcp(r);
        return t && t.capturerNsPerPkt ? r.capturerNsPerPkt / t.capturerNsPerPkt : null;
      });
      const deltaX = pick((r) => {
        const t = tcp(r);
        const n = find(sc, 'none', r.rep);
        if (!t || !n) return null;
        const dt = t.senderNsPerPkt - n.senderNsPerPkt;
        return dt > 0 ? (r.senderNsPerPkt - n.senderNsPerPkt) / dt : null;
      });
      out.push({
        scenario: sc,
        capturer: cap,
        reps: rs.length,
        sendPps: median(pick((r) => r.sendPps)),
        sendPpsRange: range(pick((r) => r.sendPps)),
        keptOfBare: median(pick((r) => r.keptOfBare)),
        captureRatio: median(pick((r) => r.captureRatio)),
        captureRatioMin: range(pick((r) => r.captureRatio))?.[0] ?? null,
        dropped: median(pick((r) => r.dropped)),
        droppedMax: range(pick((r) => r.dropped))?.[1] ?? null,
        capturerNsPerPkt: median(pick((r) => r.capturerNsPerPkt)),
        capturerNsPerPktRange: range(pick((r) => r.capturerNsPerPkt)),
        senderNsPerPkt: median(pick((r) => r.senderNsPerPkt)),
        senderDeltaNsPerPkt: median(delta),
        senderDeltaRange: range(delta),
        cpuVsTcpdump: cap.startsWith('tapwire') || cap === 'cap' ? median(cpuX) : null,
        deltaVsTcpdump: cap.startsWith('tapwire') || cap === 'cap' ? median(deltaX) : null,
        errors: rs.flatMap((r) => r.errors),
      });
    }
  }
  return out;
}

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

// issue 12's targets: each as the measured ratio against tcpdump's in the same run.
const TARGETS = [
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
    rows.push([
      `peak RSS, ${fmtInt(r.count)} frames at max, keeping up`,
      r.capturer,
      `${mib.toFixed(1)} MiB`,
      '≤ 96 MiB',
      verdict(mib, 96),
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

// ---------------------------------------------------------------- setup ------

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

// ---------------------------------------------------------------- cleanup ----

function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) killGroup(c, 'SIGKILL');
  for (const ns of [NS_S, NS_R]) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      /* not there */
    }
  }
  if (work) {
    if (keepWork) log(`work folder kept: ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main -------

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
    for (const capturer of ['tapwire-ebpf', 'tapwire-ebpf-idle', 'tapwire-raw', 'tapwire-raw-idle']) {
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
