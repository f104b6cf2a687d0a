'use strict';
// The Linux release from which each kernel feature the tests need is there, written
// once. A test of a feature the probe says is missing skips, with the probe's reason;
// but on a kernel at or above the feature's release the probe is wrong, not the kernel,
// and under CI=true the test fails instead (as cilium/ebpf's tests do): a probe that
// wrongly said "no tcx" on 6.6+ would otherwise turn every tcx test into a skip and
// leave CI green.
const os = require('node:os');
const { probe } = require('../..');

/**
 * Mainline releases; where a feature is several of them (the attribution programs),
 * the oldest release the kernel matrix has seen it load on.
 */
const MINIMUM = {
  uprobe: '4.17', // perf_event_open through the uprobe PMU
  ringBuffer: '5.8', // BPF_MAP_TYPE_RINGBUF
  socketCapture: '5.8', // the capture programs write to a ring buffer
  cgroupCapture: '5.8',
  cgroupAttribution: '5.10', // socket storage from the cgroup socket hooks: loads on Debian's 5.10
  attribution: '5.10', // for cgroup captures at least
  tcx: '6.6',
  tcxCapture: '6.6',
  tcxAttribution: '6.6',
};

/** Kernels before this charge BPF maps to RLIMIT_MEMLOCK; from it, to memory cgroups. */
const MEMCG_ACCOUNTING = '5.11';

/** Whether the kernel `release` (os.release()'s form: 6.18.44-fc, 5.10.0-46-amd64) is `version` or later. */
function kernelAtLeast(version, release = os.release()) {
  const [major, minor] = release.split(/[.-]/).map(Number);
  const [wantMajor, wantMinor] = version.split('.').map(Number);
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

/** Whether this kernel has `feature` by its release, whatever the probe says. */
function kernelHas(feature, release = os.release()) {
  if (!(feature in MINIMUM)) throw new Error(`no minimum release written for ${feature}`);
  return kernelAtLeast(MINIMUM[feature], release);
}

/**
 * What a test of `feature` does given the probe's `report`: run (null), or skip or fail
 * ({ fail, reason }): it fails under CI where the kernel's release has the feature.
 */
function verdict(feature, report, ci = process.env.CI === 'true') {
  const found = report.features[feature];
  if (found.ok) return null;
  if (!kernelHas(feature, report.kernelRelease)) return { fail: false, reason: `the kernel lacks it: ${found.reason}` };
  const reason = `the probe says ${feature} is missing on Linux ${report.kernelRelease}, which has it from ${MINIMUM[feature]}: ${found.reason}`;
  return { fail: ci, reason };
}

/** Call from a mocha `before`/`it` with `this`: skips, or fails (see verdict), unless the probe found `feature`. */
async function requireFeature(ctx, feature) {
  const v = verdict(feature, await probe());
  if (v === null) return;
  if (v.fail) throw new Error(`cannot run under CI: ${v.reason}`);
  ctx.skip(v.reason);
}

module.exports = { MINIMUM, MEMCG_ACCOUNTING, kernelAtLeast, kernelHas, verdict, requireFeature };
