'use strict';
// Privileged tests ask the probe what this process may do, not who it is. Outside CI a
// test that lacks it skips with the reason; under CI=true it fails, so a green CI run
// means the kernel paths really ran. A kernel that lacks a feature (the probe says so)
// skips a test of it anywhere, with the probe's reason (helpers/features.js: unless the
// kernel's release has it).
const { execFileSync } = require('node:child_process');
const { probe } = require('../..');
const { requireFeature } = require('./features');

function missing(tools) {
  return tools.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

function skipOrFail(ctx, reasons) {
  if (reasons.length === 0) return;
  const why = reasons.join('; ');
  if (process.env.CI === 'true') throw new Error(`cannot run under CI: ${why}`);
  ctx.skip(why);
}

/**
 * Call from a mocha `before`/`it` with `this`: skips or fails unless this process holds
 * what tests that make network namespaces and open captures need (CAP_SYS_ADMIN and
 * CAP_NET_ADMIN for namespaces and links, CAP_NET_RAW for packet sockets) and `tools`.
 */
async function requirePrivileges(ctx, tools = []) {
  const report = await probe();
  const reasons = [];
  const lacking = ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_NET_RAW'].filter((c) => !report.capabilities[c]);
  if (lacking.length) reasons.push(`needs ${lacking.join(', ')} (network namespaces, packet sockets): run as root`);
  const absent = missing(tools);
  if (absent.length) reasons.push(`needs ${absent.join(', ')} installed`);
  skipOrFail(ctx, reasons);
}

/**
 * As requirePrivileges, for a test of one backend variant ({ backend, attach }): a tcx
 * test skips where the kernel has no tcx (before Linux 6.6; see requireFeature). Where
 * the probe found the kernel's side present, the test runs, and fails if tapwire cannot
 * use it.
 */
async function requireVariant(ctx, variant, tools = []) {
  await requirePrivileges(ctx, tools);
  if (variant.backend === 'ebpf' && variant.attach === 'tcx') await requireFeature(ctx, 'tcx');
}

/** For tests that need only tools (tshark reading a file), not root. */
function requireTools(ctx, tools) {
  const absent = missing(tools);
  skipOrFail(ctx, absent.length ? [`needs ${absent.join(', ')} installed`] : []);
}

module.exports = { requirePrivileges, requireVariant, requireTools };
