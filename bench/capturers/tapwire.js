'use strict';
// A tapwire capturer for bench/run.js.
//
//   node bench/capturers/tapwire.js MODE BACKEND IFACE [FILTER]
//
// MODE: 'accessors' reads every packet's length and first byte with the batch's
// allocation-free accessors; 'packets' does the same through `for (const pkt of
// batch)` Packet objects; 'latency' reads like 'accessors' and also how long each packet
// took from its capture timestamp to the loop (p50_us, p99_us, max_us); 'idle' opens
// the capturer and never iterates it (memory bound check); 'headers' reads every
// packet's addresses and ports through one reused HeaderView; 'flows' adds every
// packet to a FlowTable (tapwire/conversations). Prints "ready" once
// attached; on SIGINT it closes the capturer (which hands over what was already
// captured), and prints one line:
//   captured=N dropped=N kernel_drops=N userspace_drops=N delivered=N vmhwm_kb=N
// and the parts of the never-reading bound: baseline_kb (RSS before opening), ring_kb
// (what opening added: the ring's mappings) and hwm_kb (the capturer's highWaterMark).
const fs = require('node:fs');
const path = require('node:path');
const { openCapturer, HeaderView } = require(path.join(__dirname, '..', '..'));
const { FlowTable } = require(path.join(__dirname, '..', '..', 'dist', 'conversations'));
// The bound of a capturer that never reads uses the default highWaterMark, as it does.
const { resolveOptions } = require(path.join(__dirname, '..', '..', 'dist', 'options'));

const [mode, backend, iface, filter = 'udp'] = process.argv.slice(2);
if (
  !['accessors', 'packets', 'latency', 'idle', 'headers', 'flows'].includes(mode) ||
  !['ebpf', 'raw-socket'].includes(backend) ||
  !iface
) {
  console.error('usage: node tapwire.js accessors|packets|latency|idle|headers|flows ebpf|raw-socket IFACE [FILTER]');
  process.exit(2);
}

/** Minor page faults of this process so far (fresh memory touched for the first time). */
function minorFaults() {
  // /proc/self/stat: the command may hold spaces, so count fields after its ')'.
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

function status(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : -1;
}
const vmHwmKb = () => status('VmHWM');

async function main() {
  const baselineKb = status('VmRSS');
  const opening = process.hrtime.bigint();
  // TWB_ATTRIBUTION=1: every packet's owner is looked up in the kernel (run.js's tapwire-ebpf-attribution).
  // TWB_ZERO_COPY=1: batches lent from the kernel's ring (run.js's tapwire-raw-zc).
  const cap = await openCapturer({
    interfaces: [iface],
    filter,
    backend,
    attribution: process.env.TWB_ATTRIBUTION === '1',
    zeroCopy: process.env.TWB_ZERO_COPY === '1',
  });
  const openMs = Number(process.hrtime.bigint() - opening) / 1e6;
  const bound = `baseline_kb=${baselineKb} ring_kb=${status('VmRSS') - baselineKb} hwm_kb=${resolveOptions({}).highWaterMark / 1024}`;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (mode === 'idle') {
      // The peak of a capturer nobody reads, taken before close(): close() hands over
      // what the ring still holds, which is the consumer reading at last.
      const peak = vmHwmKb();
      cap.close().then(() => {
        report(cap, 0, peak, 0, 0, ` ${bound} vmhwm_closed_kb=${vmHwmKb()}`);
        process.exit(0);
      });
    } else {
      void cap.close(); // the loop below drains and ends
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  console.log(`ready backend=${cap.backend} mode=${mode} open_ms=${openMs.toFixed(1)}`);
  const faultsAtReady = minorFaults();

  if (mode === 'idle') {
    // Once its queue passes highWaterMark the capturer pauses and stops polling; a
    // paused capturer holds no active handle, so keep the process alive ourselves.
    setInterval(() => {}, 1 << 30);
    return;
  }

  let n = 0;
  let bytes = 0;
  let check = 0;
  let latency = '';
  if (mode === 'accessors') {
    for await (const batch of cap) {
      const data = batch.data;
      for (let i = 0; i < batch.length; i++) {
        bytes += batch.lengthAt(i);
        check ^= data[batch.offsetAt(i)];
      }
      n += batch.length;
    }
  } else if (mode === 'headers') {
    const h = new HeaderView();
    for await (const batch of cap) {
      for (let i = 0; i < batch.length; i++) {
        batch.headersAt(i, h);
        bytes += batch.lengthAt(i);
        check ^= h.src4 ^ h.dst4 ^ h.srcPort ^ h.dstPort;
      }
      n += batch.length;
    }
  } else if (mode === 'flows') {
    const table = new FlowTable();
    for await (const batch of cap) {
      table.addBatch(batch);
      bytes += batch.bytes;
      n += batch.length;
    }
    check = table.stats.flows;
  } else if (mode === 'latency') {
    // 10 µs buckets up to 10 s; the capture timestamps are the kernel's wall clock.
    const buckets = new Uint32Array(1_000_000);
    for await (const batch of cap) {
      const now = performance.timeOrigin + performance.now();
      const data = batch.data;
      for (let i = 0; i < batch.length; i++) {
        bytes += batch.lengthAt(i);
        check ^= data[batch.offsetAt(i)];
        buckets[Math.min(buckets.length - 1, Math.max(0, Math.floor((now - batch.timestampAt(i)) * 100)))]++;
      }
      n += batch.length;
    }
    latency = percentiles(buckets, n);
  } else {
    for await (const batch of cap) {
      for (const pkt of batch) {
        bytes += pkt.length;
        check ^= pkt.data[0];
        n++;
      }
    }
  }
  report(cap, n, vmHwmKb(), bytes, check, `${latency} minflt=${minorFaults() - faultsAtReady}`);
  process.exit(0);
}

/** " p50_us=N p99_us=N max_us=N" of a histogram of 10 µs buckets holding `count` values. */
function percentiles(buckets, count) {
  const at = (q) => {
    let seen = 0;
    for (let b = 0; b < buckets.length; b++) if ((seen += buckets[b]) >= Math.ceil(q * count)) return b * 10;
    return -1;
  };
  let max = -1;
  for (let b = buckets.length - 1; b >= 0 && max < 0; b--) if (buckets[b]) max = b * 10;
  return count ? ` p50_us=${at(0.5)} p99_us=${at(0.99)} max_us=${max}` : '';
}

function report(cap, read, hwm, bytes = 0, check = 0, latency = '') {
  const s = cap.stats();
  const dropped = s.drops.kernel + s.drops.ring + s.drops.userspace;
  const captured = mode === 'idle' ? s.packets : read; // idle: held unread in the capturer
  console.log(
    `captured=${captured} dropped=${dropped} kernel_drops=${s.drops.kernel} ` +
      `userspace_drops=${s.drops.userspace} delivered=${s.packets} read=${read} ` +
      `bytes=${bytes} check=${check} vmhwm_kb=${hwm}${latency}`,
  );
}

main().catch((err) => {
  console.error(`tapwire capturer failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
