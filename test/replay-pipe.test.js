'use strict';
// Replaying from a pipe (a FIFO, or stdin fed by another program) that is quiet: its
// writer has not come, or has gone silent. Waiting on it holds no thread, so an
// AbortSignal, close() and process.exit() each end the wait.
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer } = require('..');
const { pcapFile, udpFrame } = require('./helpers/files');

const root = path.join(__dirname, '..');
const pcap = pcapFile({
  packets: Array.from({ length: 10 }, (_, i) => ({ seconds: 1, fraction: i, data: udpFrame(Buffer.alloc(20, i), { dport: 9 }) })),
});

describe('replaying a quiet pipe', function () {
  let dir;
  let fifo;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-pipe-'));
    fifo = path.join(dir, 'capture.fifo');
    execFileSync('mkfifo', [fifo]);
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a FIFO no one writes to: aborting the signal rejects openCapturer with its reason', async function () {
    const controller = new AbortController();
    const opening = openCapturer({ file: fifo, signal: controller.signal });
    setImmediate(() => controller.abort());
    await assert.rejects(opening, { name: 'AbortError' });
  });

  it('a FIFO no one writes to: process.exit() ends the process', async function () {
    const script = `require(${JSON.stringify(root)}).openCapturer({ file: ${JSON.stringify(fifo)} }); setTimeout(() => process.exit(5), 100);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    try {
      const code = await new Promise((resolve) => child.on('exit', resolve));
      assert.equal(code, 5);
    } finally {
      child.kill('SIGKILL'); // only if it hung: the test has failed by timeout then
    }
  });

  it('a writer that went quiet: close() ends the iteration after what it wrote', async function () {
    const writer = fs.createWriteStream(fifo);
    // Destroyed while its write is still pending, the writer would fail that write.
    const written = new Promise((resolve, reject) => writer.write(pcap, (err) => (err ? reject(err) : resolve())));
    const cap = await openCapturer({ file: fifo });
    let packets = 0;
    const reading = (async () => {
      for await (const batch of cap) {
        packets += batch.length;
        if (packets === 10) await cap.close(); // the writer stays, silent
      }
    })();
    await reading;
    assert.equal(packets, 10);
    await written;
    writer.destroy();
  });

  it('a FIFO fed as it is written: every packet, then the end', async function () {
    const opening = openCapturer({ file: fifo });
    const writer = fs.createWriteStream(fifo);
    writer.write(pcap.subarray(0, 10)); // less than the file header at first
    setImmediate(() => writer.end(pcap.subarray(10)));
    const cap = await opening;
    let packets = 0;
    for await (const batch of cap) packets += batch.length;
    assert.equal(packets, 10);
  });
});
