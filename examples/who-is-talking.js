'use strict';
// A per-process "who is talking" monitor: counts packets per process every few
// seconds, from the socket each packet belongs to, until ^C or --seconds. Attribution
// runs on interfaces attached by tcx (Linux 6.6+); on older kernels this captures the
// root cgroup instead (every process's sockets, on every interface: -i does not apply).
//
//   sudo node examples/who-is-talking.js [-i IFACE] [-f FILTER] [--every S] [--seconds S]
//
// On an interface capture of loopback only the incoming copy of a packet is kept:
// `process` is the receiver and `peerProcess` the sender, so each counts for both. A
// cgroup capture keeps each socket's copy: the sender's going out, the receiver's in.
const { parseArgs } = require('node:util');
const { openCapturer, probe } = require('..');

const { values: opt } = parseArgs({
  options: {
    interface: { type: 'string', short: 'i' },
    filter: { type: 'string', short: 'f', default: '' },
    every: { type: 'string', default: '2' },
    seconds: { type: 'string' },
  },
});

async function main() {
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  const { tcxAttribution } = (await probe()).features;
  const where = tcxAttribution.ok ? { interfaces: opt.interface } : { cgroup: '/' };
  const cap = await openCapturer({ ...where, filter: opt.filter, attribution: true, signal: stop.signal });
  if (opt.seconds) setTimeout(() => stop.abort(), Number(opt.seconds) * 1000);
  console.log(`who-is-talking: capturing (${cap.selection.attribution.reason})`);
  const counts = new Map(); // "comm[pid]" → packets
  const count = (p) => p?.pid && counts.set(`${p.comm}[${p.pid}]`, (counts.get(`${p.comm}[${p.pid}]`) ?? 0) + 1);
  const report = () => {
    for (const [who, n] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${String(n).padStart(8)}  ${who}`);
    console.log('--');
    counts.clear();
  };
  const timer = setInterval(report, Number(opt.every) * 1000);
  // Aborting closes the capturer: the loop then ends quietly, with no error to catch.
  for await (const pkt of cap.packets()) {
    count(pkt.process);
    if (pkt.peerProcess?.pid !== pkt.process?.pid) count(pkt.peerProcess);
  }
  clearInterval(timer);
  report();
}

main().catch((err) => {
  console.error(`who-is-talking: ${err.code ?? 'error'}: ${err.message}`);
  process.exitCode = 1;
});
