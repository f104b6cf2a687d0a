'use strict';
// One measured run: a capturer listening in the receiving namespace while the sender
// sends a scenario's frames, and what each side did (frames, drops, CPU per packet).
const fs = require('node:fs');
const path = require('node:path');
const { capturerSpec, parseCapturer } = require('./capturers');
const { cpuSince, threadCpu, vmHwmKb } = require('./cpu');
const { NS_S, NS_R, IF_S, IF_R, MAC_S, MAC_R, IP_S, IP_R, PORT, linkCounters } = require('./namespaces');
const { start, killGroup, stop, sleep, waitFor, kv } = require('./processes');

const ROOT = path.join(__dirname, '..', '..');
const SENDER_CPU = 0;
const CAPTURER_CPU = 1;
const BATCH = 64;
const CALIB_FRAMES = 100_000;
const SETTLE_MS = 300;

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

module.exports = { SENDER_CPU, CAPTURER_CPU, BATCH, CALIB_FRAMES, runOne };
