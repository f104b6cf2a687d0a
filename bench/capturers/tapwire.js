'use strict';
// A tapwire capturer for bench/run.js.
//
//   node bench/capturers/tapwire.js MODE BACKEND IFACE [FILTER]
//
// MODE: 'accessors' reads every packet's length and first byte with the batch's
// allocation-free accessors; 'packets' does the same through `for (const pkt of
// batch)` Packet objects; 'idle' opens the capturer and never iterates it (memory
// bound check). Prints "ready" once attached; on SIGINT it closes the capturer
// (which hands over what was already captured), and prints one line:
//   captured=N dropped=N kernel_drops=N userspace_drops=N delivered=N vmhwm_kb=N
const fs = require('node:fs');
const path = require('node:path');
const { openCapturer } = require(path.join(__dirname, '..', '..'));

const [mode, backend, iface, filter = 'udp'] = process.argv.slice(2);
if (!['accessors', 'packets', 'idle'].includes(mode) || !['ebpf', 'raw-socket'].includes(backend) || !iface) {
  console.error('usage: node tapwire.js accessors|packets|idle ebpf|raw-socket IFACE [FILTER]');
  process.exit(2);
}

function vmHwmKb() {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : -1;
}

async function main() {
  const opening = process.hrtime.bigint();
  const cap = await openCapturer({ interfaces: [iface], filter, backend });
  const openMs = Number(process.hrtime.bigint() - opening) / 1e6;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (mode === 'idle') {
      // close() also hands over what the ring still holds: the peak includes it
      cap.close().then(() => {
        report(cap, 0, vmHwmKb());
        process.exit(0);
      });
    } else {
      void cap.close(); // the loop below drains and ends
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  console.log(`ready backend=${cap.backend} mode=${mode} open_ms=${openMs.toFixed(1)}`);

  if (mode === 'idle') {
    // Once its queue passes highWaterMark the capturer pauses and stops polling; a
    // paused capturer holds no active handle, so keep the process alive ourselves.
    setInterval(() => {}, 1 << 30);
    return;
  }

  let n = 0;
  let bytes = 0;
  let check = 0;
  if (mode === 'accessors') {
    for await (const batch of cap) {
      const data = batch.data;
      for (let i = 0; i < batch.length; i++) {
        bytes += batch.lengthAt(i);
        check ^= data[batch.offsetAt(i)];
      }
      n += batch.length;
    }
  } else {
    for await (const batch of cap) {
      for (const pkt of batch) {
        bytes += pkt.length;
        check ^= pkt.data[0];
        n++;
      }
    }
  }
  report(cap, n, vmHwmKb(), bytes, check);
  process.exit(0);
}

function report(cap, read, hwm, bytes = 0, check = 0) {
  const s = cap.stats();
  const dropped = s.drops.kernel + s.drops.ring + s.drops.userspace;
  const captured = mode === 'idle' ? s.packets : read; // idle: held unread in the capturer
  console.log(
    `captured=${captured} dropped=${dropped} kernel_drops=${s.drops.kernel} ` +
      `userspace_drops=${s.drops.userspace} delivered=${s.packets} read=${read} ` +
      `bytes=${bytes} check=${check} vmhwm_kb=${hwm}`,
  );
}

main().catch((err) => {
  console.error(`tapwire capturer failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
