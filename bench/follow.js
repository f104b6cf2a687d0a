'use strict';
// How long after an interface appears an every-interface capture has hooked it: the
// window in which its first packets can be missed. Creates and deletes veth pairs (in
// a namespace of its own, whose name starts twfb-) with a capture of each backend open,
// and times each from just before `ip link add` to the capture's 'interface' event.
//   node bench/follow.js [--count N]      (root, after npm run build:all)
const { execFileSync } = require('node:child_process');
const { openCapturer } = require('..');

const count = Number(process.argv[process.argv.indexOf('--count') + 1]) || 50;
const ns = `twfb-${process.pid}`;
const VARIANTS = [{ backend: 'ebpf', attach: 'tcx' }, { backend: 'ebpf', attach: 'socket' }, { backend: 'raw-socket' }];

const ip = (...args) => execFileSync('ip', ['-n', ns, ...args]);
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function measure(variant) {
  const cap = await openCapturer({ ...variant, netns: ns, filter: 'udp port 9' });
  const windows = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = `fb${i}`;
      const added = new Promise((resolve) => {
        const on = (e) => {
          if (e.name !== name || e.change !== 'added') return;
          cap.off('interface', on);
          resolve(e);
        };
        cap.on('interface', on);
      });
      const start = process.hrtime.bigint();
      ip('link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`);
      const event = await added;
      if (!event.attached) throw new Error(`${name} was not attached: ${event.reason}`);
      windows.push(Number(process.hrtime.bigint() - start) / 1e6);
      ip('link', 'del', name);
    }
  } finally {
    await cap.close();
  }
  return windows.sort((a, b) => a - b);
}

(async () => {
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    console.log(`window from 'ip link add' to the capture having hooked the interface, ${count} veth pairs each, ms:`);
    for (const variant of VARIANTS) {
      const w = await measure(variant);
      const name = Object.values(variant).join(' ').padEnd(12);
      console.log(`${name}  median ${quantile(w, 0.5).toFixed(1)}  p90 ${quantile(w, 0.9).toFixed(1)}  max ${w[w.length - 1].toFixed(1)}`);
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
