'use strict';
// A seeded mutational fuzzer for the pcap and pcapng readers (lib/pcapng):
//   node test/fuzz/readers.js SECONDS [SEED]   (scripts/memcheck.sh runs it in CI)
// Each input is a seed of test/fuzz/corpus/readers, mutated (bits, bytes, lengths,
// cuts, splices); it must:
// - fail only with a FileError (ERR_FILE) whose offset lies inside the input;
// - give the same packets and the same error however it is cut into chunks (a pipe
//   hands a file over in pieces of any size);
// - give packets that are whole (valid interface, time and lengths);
// - replay through openCapturer({ file }) to the same packets, or the same error.
// The inputs run in a worker, which reports its progress: one that stops making any (a
// reader that loops) is ended, and the run fails. A failure names the seed and the
// input in base64.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { isMainThread, parentPort, Worker, workerData } = require('node:worker_threads');
const { rng } = require('../helpers/corpus');

const root = path.join(__dirname, '..', '..');
const { openCapturer } = require(root);
const { parserFor } = require(path.join(root, 'dist', 'pcapng', 'detect'));
const { PCAP_HEADER_BYTES } = require(path.join(root, 'dist', 'pcapng', 'format'));

const MAX_INPUT = 64 * 1024;
const INTERESTING = [0, 1, 4, 8, 11, 12, 16, 20, 24, 28, 31, 32, 0x7f, 0x80, 0xff, 0xffff, 2 ** 24, 0x7fffffff, 0x80000000, 0xffffffff];

/** Packets and the error of `bytes` fed in pieces of the sizes `cut()` gives, as FileSource feeds them. */
function read(bytes, cut) {
  const packets = [];
  const onRecord = (iface, seconds, nanoseconds, data, wireLength, outbound) =>
    packets.push({ iface, seconds, nanoseconds, data: Buffer.from(data), wireLength, outbound });
  let at = 0;
  const next = () => {
    const n = Math.min(bytes.length - at, cut());
    const chunk = bytes.subarray(at, at + n);
    at += n;
    return chunk;
  };
  let parser;
  try {
    let head = Buffer.alloc(0);
    while (head.length < PCAP_HEADER_BYTES && at < bytes.length) head = Buffer.concat([head, next()]);
    parser = parserFor(head, 'input');
    let pending = head;
    let offset = 0;
    for (;;) {
      const consumed = parser.parse(pending, offset, onRecord);
      assert.ok(Number.isInteger(consumed) && consumed >= 0 && consumed <= pending.length, `consumed ${consumed} of ${pending.length}`);
      pending = pending.subarray(consumed);
      offset += consumed;
      if (at >= bytes.length) break;
      pending = Buffer.concat([pending, next()]);
    }
    return {
      packets,
      format: parser.format,
      interfaces: parser.interfaces.length,
      error: pending.length > 0 ? { message: 'ends inside a block', offset } : null,
    };
  } catch (err) {
    if (err?.code !== 'ERR_FILE') throw err;
    assert.ok(
      Number.isInteger(err.offset) && err.offset >= 0 && err.offset <= bytes.length,
      `error offset ${err.offset} outside ${bytes.length} bytes`,
    );
    return {
      packets,
      format: parser?.format,
      interfaces: parser?.interfaces.length ?? 0,
      error: { message: err.message, offset: err.offset },
    };
  }
}

function checkPackets(result) {
  for (const p of result.packets) {
    assert.ok(Number.isInteger(p.iface) && p.iface >= 0 && p.iface < result.interfaces, `interface ${p.iface}`);
    // pcapng times run past 2106; a classic pcap record's fraction field is kept as it is (up to 2³² µs).
    const [maxSeconds, maxNanoseconds] = result.format === 'pcapng' ? [Number.MAX_SAFE_INTEGER, 1e9 - 1] : [0xffffffff, 0xffffffff * 1000];
    assert.ok(Number.isInteger(p.seconds) && p.seconds >= 0 && p.seconds <= maxSeconds, `seconds ${p.seconds}`);
    assert.ok(Number.isInteger(p.nanoseconds) && p.nanoseconds >= 0 && p.nanoseconds <= maxNanoseconds, `nanoseconds ${p.nanoseconds}`);
    assert.ok(Number.isInteger(p.wireLength) && p.wireLength >= 0, `wire length ${p.wireLength}`);
  }
}

function mutate(r, seeds) {
  const pick = (n) => Math.floor(r() * n);
  let b = Buffer.from(seeds[pick(seeds.length)]);
  if (r() < 0.1) b = Buffer.concat([b.subarray(0, pick(b.length + 1)), seeds[pick(seeds.length)].subarray(pick(b.length))]);
  for (let m = 1 + pick(8); m > 0 && b.length > 0; m--) {
    const at = pick(b.length);
    switch (pick(7)) {
      case 0:
        b[at] ^= 1 << pick(8);
        break;
      case 1:
        b[at] = [0, 1, 0x7f, 0x80, 0xff][pick(5)];
        break;
      case 2: {
        const v = r() < 0.8 ? INTERESTING[pick(INTERESTING.length)] : b.length + [-8, -4, 4, 8][pick(4)];
        const where = at & ~3;
        if (where + 4 <= b.length) r() < 0.5 ? b.writeUInt32LE(v >>> 0, where) : b.writeUInt32BE(v >>> 0, where);
        break;
      }
      case 3:
        b = b.subarray(0, at);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + pick(16) }, () => pick(256))), b.subarray(at)]);
        break;
      case 5: {
        const end = Math.min(b.length, at + 1 + pick(64));
        b = Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
        break;
      }
      default:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + pick(32)))]);
    }
  }
  return b.subarray(0, MAX_INPUT);
}

/** What openCapturer({ file }) makes of the input: packets, or the FileError that ended them. */
async function replay(file) {
  let cap;
  try {
    cap = await openCapturer({ file });
  } catch (err) {
    return { packets: 0, code: err.code };
  }
  let packets = 0;
  try {
    for await (const batch of cap) packets += batch.length;
  } catch (err) {
    return { packets, code: err.code };
  }
  return { packets, code: null };
}

async function fuzz({ seconds, seed }) {
  const corpus = path.join(__dirname, 'corpus', 'readers');
  const seeds = fs.readdirSync(corpus).map((f) => fs.readFileSync(path.join(corpus, f)));
  const r = rng(seed);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-fuzz-readers-'));
  const end = Date.now() + seconds * 1000;
  let inputs = 0;
  let replays = 0;
  try {
    while (Date.now() < end) {
      const input = mutate(r, seeds);
      try {
        const whole = read(input, () => input.length);
        checkPackets(whole);
        for (let k = 0; k < 3; k++) {
          const pieces = read(input, () => 1 + Math.floor(r() * (k === 0 ? 8 : 512)));
          assert.deepEqual(pieces, whole, 'read in pieces, the input gives other packets or another error');
        }
        if (inputs % 25 === 0) {
          const file = path.join(dir, 'input');
          fs.writeFileSync(file, input);
          const replayed = await replay(file);
          assert.ok(replayed.code === null || replayed.code === 'ERR_FILE', `replay failed with ${replayed.code}`);
          assert.equal(replayed.packets, whole.packets.length, 'replay gives another number of packets');
          assert.equal(replayed.code !== null, whole.error !== null, 'replay and reader disagree on an error');
          replays++;
        }
      } catch (err) {
        err.message = `seed ${seed}, input ${inputs} (base64 ${input.toString('base64')}): ${err.message}`;
        throw err;
      }
      if (++inputs % 200 === 0) parentPort.postMessage({ progress: inputs });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { inputs, replays };
}

/** Runs the fuzzer in a worker; ends it if it stops making progress for `stall` ms. */
function watch(seconds, seed, stall = 20000) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: { seconds, seed } });
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        reject(new Error(`seed ${seed}: no progress for ${stall} ms: a reader loops`));
        void worker.terminate();
      }, stall);
    };
    arm();
    worker.on('message', (m) => {
      arm();
      if (m.done) {
        clearTimeout(timer);
        resolve(m.done);
      }
    });
    worker.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

if (isMainThread) {
  const seconds = Number(process.argv[2] ?? 30);
  const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 2 ** 31));
  watch(seconds, seed).then(
    ({ inputs, replays }) => console.log(`readers fuzz: seed ${seed}: ${inputs} inputs (${replays} replayed) in ${seconds} s, no failure`),
    (err) => {
      console.error(`readers fuzz: ${err.stack}`);
      process.exit(1);
    },
  );
} else {
  fuzz(workerData).then((done) => parentPort.postMessage({ done }));
}
