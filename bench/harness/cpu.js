'use strict';
// CPU and memory accounting of a process, from /proc: every thread's CPU time
// (schedstat, exact to the ns) and the peak resident set.
const fs = require('node:fs');

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

module.exports = { threadCpu, cpuSince, vmHwmKb };
