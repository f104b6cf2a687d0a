'use strict';
// Files that turn over (RotatingWriter; tapwire capture -C/-G/-W): every file complete
// for tshark, every packet in exactly one file, in order, and the same turn-over points
// and names as tcpdump's own -C and -W on the same traffic.
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const { once } = require('node:events');
const { setTimeout: sleep } = require('node:timers/promises');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer, RotatingWriter } = require('..');
const { requirePrivileges, requireTools } = require('./helpers/privileged');
const { createLinkWithSink, sendFromPeer } = require('./helpers/netns');
const { pcapFile, udpFrame, tsharkFields } = require('./helpers/files');

const BIN = path.join(__dirname, '..', 'bin', 'tapwire.js');
const BASE = 1_767_225_600; // 2026-01-01T00:00:00Z, a multiple of every interval used here
const PCAP_RECORD = 16;

/** Packet i carries "packet i" and is stamped BASE + seconds(i). */
async function batchesOf(dir, count, seconds = (i) => i * 0.25) {
  const source = path.join(dir, `source-${count}.pcap`);
  const packets = Array.from({ length: count }, (_, i) => {
    const t = BASE + seconds(i);
    return { seconds: Math.floor(t), fraction: Math.round((t % 1) * 1e6), data: udpFrame(Buffer.from(`packet ${i}`)) };
  });
  fs.writeFileSync(source, pcapFile({ packets }));
  // A replay hands over large batches: files turn over inside them.
  const batches = [];
  for await (const batch of await openCapturer({ file: source })) batches.push(batch);
  return batches;
}

/** The "packet N" numbers in a file, in order, as tshark reads them. */
function numbersIn(file) {
  return tsharkFields(file, ['udp.payload']).map((r) =>
    Number(Buffer.from(r['udp.payload'].replace(/:/g, ''), 'hex').toString().split(' ')[1]),
  );
}

/** Resolves with `child` once it says it is listening (tapwire and tcpdump both do). */
function started(child) {
  child.stderrText = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      child.stderrText += d;
      if (/listening on/.test(child.stderrText)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${child.spawnfile} exited ${code}: ${child.stderrText}`)));
  });
}

async function writeAll(writer, batches) {
  const finished = [];
  writer.on('file', (f) => finished.push(path.basename(f)));
  for (const b of batches) if (!writer.write(b)) await writer.drained();
  await writer.close();
  return finished;
}

describe('files that turn over', function () {
  let dir;

  before(function () {
    requireTools(this, ['tshark', 'capinfos']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-rotate-'));
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('by size: x, x1, x2, ... each larger than the limit only by its last packet, every packet once, in order', async function () {
    const out = fs.mkdtempSync(path.join(dir, 'size-'));
    const batches = await batchesOf(dir, 60);
    const finished = await writeAll(new RotatingWriter({ path: path.join(out, 'x.pcap'), format: 'pcap', maxBytes: 600 }), batches);
    const names = fs.readdirSync(out).sort((a, b) => a.length - b.length || a.localeCompare(b));
    assert.deepEqual(finished, names);
    assert.deepEqual(names.slice(0, 3), ['x.pcap', 'x.pcap1', 'x.pcap2']);
    const numbers = [];
    names.forEach((name, n) => {
      const file = path.join(out, name);
      const got = numbersIn(file);
      const size = fs.statSync(file).size;
      const last = PCAP_RECORD + udpFrame(Buffer.from(`packet ${got.at(-1)}`)).length;
      if (n < names.length - 1) assert.ok(size > 600 && size - last <= 600, `${name}: ${size} bytes`);
      numbers.push(...got);
    });
    assert.deepEqual(
      numbers,
      Array.from({ length: 60 }, (_, i) => i),
    );
  });

  it('by size with a file count: a ring of x0, x1, x2 holding the newest packets', async function () {
    const out = fs.mkdtempSync(path.join(dir, 'ring-'));
    const batches = await batchesOf(dir, 60);
    await writeAll(new RotatingWriter({ path: path.join(out, 'x.pcapng'), maxBytes: 700, maxFiles: 3 }), batches);
    assert.deepEqual(fs.readdirSync(out).sort(), ['x.pcapng0', 'x.pcapng1', 'x.pcapng2']);
    const byAge = ['x.pcapng0', 'x.pcapng1', 'x.pcapng2'].map((n) => numbersIn(path.join(out, n))).sort((a, b) => a[0] - b[0]);
    const kept = byAge.flat();
    assert.equal(kept.at(-1), 59, 'the newest packet is kept');
    assert.deepEqual(
      kept,
      Array.from({ length: kept.length }, (_, i) => 60 - kept.length + i),
      'the newest packets, contiguous',
    );
    for (const n of ['x.pcapng0', 'x.pcapng1', 'x.pcapng2']) execFileSync('capinfos', [path.join(out, n)], { stdio: 'ignore' });
  });

  it('by time: a file per interval of the wall clock, named by strftime as date(1) formats it', async function () {
    requireTools(this, ['date']);
    const out = fs.mkdtempSync(path.join(dir, 'time-'));
    // 40 packets, one every 0.25 s: 10 s, intervals of 4 s starting at multiples of 4.
    const batches = await batchesOf(dir, 40);
    const template = path.join(out, 'cap-%Y%m%d-%H%M%S.pcapng');
    await writeAll(new RotatingWriter({ path: template, interval: 4 }), batches);
    const starts = [BASE, BASE + 4, BASE + 8];
    const expected = starts.map(
      (s) => `cap-${execFileSync('date', ['-d', `@${s}`, '+%Y%m%d-%H%M%S'], { encoding: 'utf8' }).trim()}.pcapng`,
    );
    assert.deepEqual(fs.readdirSync(out).sort(), expected);
    expected.forEach((name, n) => {
      const times = tsharkFields(path.join(out, name), ['frame.time_epoch']).map((r) => Number(r['frame.time_epoch']));
      assert.ok(times.length > 0);
      assert.ok(
        times.every((t) => t >= starts[n] && t < starts[n] + 4),
        `${name} holds only its interval`,
      );
    });
  });

  it("by time with a file count: that many files, then 'limit' and nothing more is written", async function () {
    const out = fs.mkdtempSync(path.join(dir, 'limit-'));
    const batches = await batchesOf(dir, 40);
    const writer = new RotatingWriter({ path: path.join(out, 'c-%s.pcap'), format: 'pcap', interval: 4, maxFiles: 2 });
    let limits = 0;
    writer.on('limit', () => limits++);
    await writeAll(writer, batches);
    assert.equal(limits, 1);
    assert.equal(writer.limitReached, true);
    const files = fs.readdirSync(out).sort();
    assert.deepEqual(files, [`c-${BASE}.pcap`, `c-${BASE + 4}.pcap`]);
    assert.deepEqual(
      files.flatMap((f) => numbersIn(path.join(out, f))),
      Array.from({ length: 32 }, (_, i) => i),
    );
  });

  it('refuses names that cannot work with ERR_INVALID_OPTION', function () {
    assert.throws(() => new RotatingWriter({ path: path.join(dir, 'same.pcapng'), interval: 60 }), {
      code: 'ERR_INVALID_OPTION',
      message: /time conversion/,
    });
    assert.throws(() => new RotatingWriter({ path: path.join(dir, 'x-%Q.pcapng'), interval: 60 }), {
      code: 'ERR_INVALID_OPTION',
      message: /%Q/,
    });
    assert.throws(() => new RotatingWriter({ path: path.join(dir, 'x.pcapng'), maxBytes: 0 }), {
      code: 'ERR_INVALID_OPTION',
      message: /maxBytes/,
    });
  });
});

describe('tapwire capture -C and -W against tcpdump on the same traffic', function () {
  const PORT = 5301;
  let link;
  let dir;

  before(async function () {
    await requirePrivileges(this, ['tcpdump', 'python3', 'ip', 'capinfos']);
    link = await createLinkWithSink(PORT);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-rotate-cli-'));
  });

  after(function () {
    link?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const ring of [false, true]) {
    it(`-C 1${ring ? ' -W 3' : ''}: the same files, with the same packets, as tcpdump's`, async function () {
      const ours = fs.mkdtempSync(path.join(dir, 'ours-'));
      const theirs = fs.mkdtempSync(path.join(dir, 'theirs-'));
      const limits = ['-C', '1', ...(ring ? ['-W', '3'] : [])];
      const child = await started(
        spawn(
          process.execPath,
          [BIN, 'capture', '-i', link.outer, '--pcap', '-w', path.join(ours, 'c.pcap'), ...limits, `udp port ${PORT}`],
          {
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        ),
      );
      const dump = await started(
        spawn(
          'tcpdump',
          ['-i', link.outer, '-n', '-B', '16384', '-Z', 'root', '-w', path.join(theirs, 'c.pcap'), ...limits, `udp port ${PORT}`],
          {
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        ),
      );
      // About 4.7 MB: five files of a million bytes.
      assert.equal(await sendFromPeer(link, { port: PORT, count: 4500, size: 1000 }), 4500);
      // Both are done once neither directory grew for longer than tcpdump's 1 s block timeout.
      // A file listed may be gone by its stat: ours renames NAME.partN to NAME when it ends.
      const size = (file) => fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
      const bytes = () => [ours, theirs].flatMap((d) => fs.readdirSync(d).map((n) => size(path.join(d, n)))).reduce((a, b) => a + b, 0);
      for (let last = -1, now = bytes(); now !== last; last = now, now = bytes()) await sleep(1500);
      for (const proc of [dump, child]) {
        proc.kill('SIGINT');
        await once(proc, 'exit');
      }
      assert.match(child.stderrText, /^4500 packets captured$/m);
      assert.match(dump.stderrText, /^4500 packets captured/m, `tcpdump captured every packet: ${dump.stderrText}`);
      const list = (d) => fs.readdirSync(d).sort();
      assert.deepEqual(list(ours), list(theirs));
      assert.ok(list(ours).length >= 3, list(ours).join(' '));
      for (const name of list(ours)) {
        const count = (d) =>
          Number(/Number of packets:\s+(\d+)/.exec(execFileSync('capinfos', ['-c', path.join(d, name)], { encoding: 'utf8' }))[1]);
        assert.equal(count(ours), count(theirs), name);
      }
    });
  }
});
