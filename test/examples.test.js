'use strict';
// The scripts in examples/ run as their comments and the README say, against real
// traffic on loopback, and do what they claim.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { openCapturer } = require('..');
const { requirePrivileges } = require('./helpers/privileged');

const ROOT = path.join(__dirname, '..');

/**
 * Runs a command from the repository root, calls `whenReady` once its output matches
 * `ready`, and resolves with its exit code and output when it ends.
 */
function runExample(argv, { ready, whenReady } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let started = !ready;
    const look = () => {
      if (started || !ready.test(stdout + stderr)) return;
      started = true;
      Promise.resolve(whenReady?.()).catch((err) => {
        child.kill();
        reject(err);
      });
    };
    child.stdout.on('data', (d) => ((stdout += d), look()));
    child.stderr.on('data', (d) => ((stderr += d), look()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (!ready) Promise.resolve(whenReady?.()).catch(reject);
  });
}

/** Sends `count` datagrams to 127.0.0.1:port, a little apart so they span batches. */
async function sendDatagrams(port, count, gapMs = 20) {
  const socket = dgram.createSocket('udp4');
  for (let i = 1; i <= count; i++) {
    await new Promise((resolve, reject) => socket.send(`datagram ${i}`, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    await sleep(gapMs);
  }
  socket.close();
}

/** A free UDP port on loopback (bound, read, released). */
async function freePort() {
  const s = dgram.createSocket('udp4');
  await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
  const { port } = s.address();
  s.close();
  return port;
}

async function packetsIn(file) {
  const cap = await openCapturer({ file });
  const payloads = [];
  for await (const batch of cap) for (const pkt of batch) payloads.push(pkt.data.toString('latin1'));
  return payloads;
}

describe('examples', function () {
  this.timeout(Math.max(this.timeout(), 60_000)); // never below the run's own (emulated kernels are slower)
  const dirs = [];
  const tempDir = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-example-'));
    dirs.push(d);
    return d;
  };
  before(function () {
    requirePrivileges(this, ['openssl']);
  });
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("capture.js: the README's quick start capture of three datagrams on lo", async function () {
    const port = await freePort();
    const r = await runExample([process.execPath, 'examples/capture.js', 'lo', `udp port ${port}`, '3'], {
      ready: /capturing on lo/,
      whenReady: () => sendDatagrams(port, 3),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /capturing on lo with the (ebpf|raw-socket) backend for 3s/);
    // Loopback: each datagram once, as it arrives (as tcpdump shows it).
    assert.equal(r.stdout.split('\n').filter((l) => /^\d{4}-.* in {2}if1 len /.test(l)).length, 3);
    assert.match(r.stdout, /3 packets captured, \d+ bytes, 0 dropped/);
  });

  it('rotating-collector.js: rotates by size, keeps the newest files, loses nothing', async function () {
    const port = await freePort();
    const dir = tempDir();
    const r = await runExample(
      [
        process.execPath,
        'examples/rotating-collector.js',
        '--dir',
        dir,
        '-i',
        'lo',
        '-f',
        `udp port ${port}`,
        '--max-bytes',
        '300',
        '--keep',
        '3',
        '--duration',
        '3',
      ],
      { ready: /capturing with/, whenReady: () => sendDatagrams(port, 20) },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /20 packets, 0 dropped/);
    const written = r.stdout.split('\n').filter((l) => l.startsWith('wrote '));
    assert.ok(written.length >= 4, `expected several files:\n${r.stdout}`);
    const kept = fs.readdirSync(dir).sort();
    assert.equal(kept.length, 3);
    assert.deepEqual(
      kept,
      written.slice(-3).map((l) => path.basename(l.split(' ')[1])),
    );
    // The kept files are whole pcapng files and hold the last packets, in order.
    const payloads = [];
    for (const f of kept) payloads.push(...(await packetsIn(path.join(dir, f))));
    assert.ok(payloads.length > 0 && payloads.length < 20);
    assert.ok(payloads.at(-1).endsWith('datagram 20'));
  });

  describe('allowed-hosts.js: a service may talk only to allowed hosts', function () {
    let port;
    let dir;
    // The "service": a datagram to each host it is given, over loopback.
    const SERVICE = `
      const [port, ...hosts] = process.argv.slice(1);
      const s = require('node:dgram').createSocket('udp4');
      let sent = 0;
      for (const h of hosts) s.send('service', Number(port), h, () => ++sent === hosts.length && s.close());`;
    const check = (args, hosts) =>
      runExample([process.execPath, 'examples/allowed-hosts.js', ...args, '--', process.execPath, '-e', SERVICE, String(port), ...hosts]);

    before(async function () {
      port = await freePort();
      dir = tempDir();
    });

    it('live: passes when the service talks only to allowed hosts, and records the capture', async function () {
      const r = await check(
        ['--allow', '127.0.0.1', '-i', 'lo', '-f', `udp port ${port}`, '-w', path.join(dir, 'good.pcapng')],
        ['127.0.0.1', '127.0.0.1'],
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /ok: 2 IP packets/);
    });

    it('live: fails naming the host that is not allowed', async function () {
      const r = await check(
        ['--allow', '127.0.0.1', '-i', 'lo', '-f', `udp port ${port}`, '-w', path.join(dir, 'bad.pcapng')],
        ['127.0.0.1', '127.0.0.2'],
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not allowed: 127\.0\.0\.2 \(1 packet\)/);
      assert.doesNotMatch(r.stderr, /127\.0\.0\.1/);
    });

    it('replayed file: the same verdicts without root or a capture', async function () {
      const good = await runExample([
        process.execPath,
        'examples/allowed-hosts.js',
        '--allow',
        '127.0.0.1',
        '-r',
        path.join(dir, 'good.pcapng'),
      ]);
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stdout, /ok: 2 IP packets/);
      const bad = await runExample([
        process.execPath,
        'examples/allowed-hosts.js',
        '--allow',
        '127.0.0.1',
        '-r',
        path.join(dir, 'bad.pcapng'),
      ]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /not allowed: 127\.0\.0\.2 \(1 packet\)/);
      const allowed = await runExample([
        process.execPath,
        'examples/allowed-hosts.js',
        '--allow',
        '127.0.0.1',
        '--allow',
        '127.0.0.2',
        '-r',
        path.join(dir, 'bad.pcapng'),
      ]);
      assert.equal(allowed.code, 0, allowed.stderr);
    });
  });

  it('tls-plaintext.js: the request and response of a Node https call, from the client process', async function () {
    const r = await runExample([process.execPath, 'examples/tls-plaintext.js', '/from-the-example']);
    assert.equal(r.code, 0, r.stderr);
    const pid = /client pid was (\d+)/.exec(r.stdout)?.[1];
    assert.ok(pid, r.stdout);
    assert.match(r.stdout, new RegExp(`write pid ${pid} \\(node\\) via node, \\d+ bytes:\\n  "GET /from-the-example HTTP/1.1`));
    assert.match(
      r.stdout,
      new RegExp(`read  pid ${pid} \\(node\\) via node, \\d+ bytes:\\n  "HTTP/1.1 200 OK.*you asked for /from-the-example`),
    );
    assert.match(r.stdout, /client: HTTP 200/);
    // The server runs in the capturing process, whose own calls are left out.
    assert.doesNotMatch(r.stdout, new RegExp(`pid (?!${pid}\\b)\\d+`));
  });
});
