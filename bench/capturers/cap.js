'use strict';
// The npm `cap` package (libpcap binding) as a capturer for bench/run.js: one JS
// 'packet' callback per packet, which reads the packet's length and first byte.
//
//   node bench/capturers/cap.js IFACE [FILTER] [BUFFER_BYTES]
//
// Prints "ready" once open; on SIGINT prints
//   captured=N dropped=N kernel_seen=N vmhwm_kb=N
// cap has no statistics API, so the drops are the kernel's PACKET_STATISTICS of this
// process's packet socket, read through `framegen sockstat PID` (path in
// TWB_FRAMEGEN); without it, dropped=-1.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { Cap } = require(require.resolve('cap', { paths: [path.join(__dirname, '..', '..')] }));

const [iface, filter = 'udp', bufArg] = process.argv.slice(2);
if (!iface) {
  console.error('usage: node cap.js IFACE [FILTER] [BUFFER_BYTES]');
  process.exit(2);
}
const bufSize = Number(bufArg ?? 10 * 1024 * 1024); // the size cap's README uses

const c = new Cap();
// cap copies each packet into this Buffer through a raw pointer but does not keep
// the Buffer alive itself: hold it here, or a GC frees it under cap (Node 20 crash).
const buffer = Buffer.alloc(65535);
c.open(iface, filter, bufSize, buffer);
const keepAlive = { c, buffer };

let captured = 0;
let bytes = 0;
let check = 0;
c.on('packet', (nbytes) => {
  captured++;
  bytes += nbytes;
  check ^= buffer[0];
});
console.log(`ready capturer=cap bufsize=${bufSize}`);

let done = false;
function finish() {
  if (done) return;
  done = true;
  let dropped = -1;
  let kernelSeen = -1;
  if (process.env.TWB_FRAMEGEN) {
    try {
      const out = execFileSync(process.env.TWB_FRAMEGEN, ['sockstat', String(process.pid)], {
        encoding: 'utf8',
        timeout: 5000,
      });
      const m = /packets=(\d+) drops=(\d+)/.exec(out);
      if (m) [kernelSeen, dropped] = [Number(m[1]), Number(m[2])];
    } catch (err) {
      console.error(`sockstat failed: ${err.message}`);
    }
  }
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  keepAlive.c.close();
  console.log(
    `captured=${captured} dropped=${dropped} kernel_seen=${kernelSeen} bytes=${bytes} ` + `check=${check} vmhwm_kb=${hwm ? hwm[1] : -1}`,
  );
  process.exit(0);
}
process.on('SIGINT', finish);
process.on('SIGTERM', finish);
