'use strict';
// Privileged tests need root and real tools. Outside CI they skip with the reason;
// under CI=true they fail, so a green CI run means the kernel paths really ran.
const { execFileSync } = require('node:child_process');

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

/** Call from a mocha `before`/`it` with `this`; skips or fails when the test cannot run. */
function requirePrivileges(ctx, tools = []) {
  const reasons = [];
  if (process.getuid() !== 0) reasons.push('needs root (network namespaces, packet sockets)');
  const absent = missing(tools);
  if (absent.length) reasons.push(`needs ${absent.join(', ')} installed`);
  skipOrFail(ctx, reasons);
}

/** For tests that need only tools (tshark reading a file), not root. */
function requireTools(ctx, tools) {
  const absent = missing(tools);
  skipOrFail(ctx, absent.length ? [`needs ${absent.join(', ')} installed`] : []);
}

module.exports = { requirePrivileges, requireTools };
