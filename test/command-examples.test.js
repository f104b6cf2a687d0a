'use strict';
// The three programs of docs/recipes.md, run as files from examples/ against real
// traffic on loopback: a CI check of one command's traffic, a per-process "who is
// talking" monitor, an HTTPS request logger.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const path = require('node:path');
const { requireFeature } = require('./helpers/features');
const { requirePrivileges } = require('./helpers/privileged');
const { certificate, startServer, stop, NODE_SERVER } = require('./helpers/tls-peers');
const { run } = require('./helpers/tools');

const ROOT = path.join(__dirname, '..');
const PORT = 5631;
const example = (name, args) => run(process.execPath, [path.join(ROOT, 'examples', name), ...args], { cwd: ROOT });
// A python3 program that sends `count` datagrams to `to`:PORT.
const sender = (count, to = '127.0.0.1') =>
  `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(${count}): s.sendto(b'x', ('${to}', ${PORT}))`;

describe('examples of docs/recipes.md', function () {
  before(async function () {
    await requirePrivileges(this, ['python3', 'curl', 'openssl']);
  });

  describe('command-check.js: a CI check of one command', function () {
    before(async function () {
      await requireFeature(this, 'cgroupCapture');
    });

    it("passes with the command's own exit code when it sent only to allowed hosts", async function () {
      const r = await example('command-check.js', ['--allow', '127.0.0.1', '--', 'python3', '-c', `${sender(3)}\nraise SystemExit(5)`]);
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stdout, /ok: 3 packets, to 127\.0\.0\.1/);
    });

    it('fails naming the host it was not allowed to send to, and none of a concurrent process', async function () {
      const outside = run('python3', ['-c', sender(20, '127.0.0.2')]);
      const r = await example('command-check.js', ['--allow', '127.0.0.1', '--', 'python3', '-c', sender(2, '127.0.0.3')]);
      await outside;
      assert.equal(r.code, 1);
      assert.match(r.stderr, /sent to 127\.0\.0\.3, not allowed \(2 packets\)/);
      assert.doesNotMatch(r.stderr, /127\.0\.0\.2/);
    });

    it('with no --allow, asserts that the command sent nothing', async function () {
      const quiet = await example('command-check.js', ['--', 'true']);
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.match(quiet.stdout, /ok: 0 packets, to no host/);
      const talks = await example('command-check.js', ['--', 'python3', '-c', sender(1)]);
      assert.equal(talks.code, 1);
    });
  });

  describe('who-is-talking.js: packets per process', function () {
    before(async function () {
      await requireFeature(this, 'cgroupAttribution');
    });

    it('counts each process, sender and receiver (tcx on loopback: peerProcess and process), and ends quietly when aborted', async function () {
      const sink = dgram.createSocket('udp4');
      await new Promise((resolve) => sink.bind(PORT, '127.0.0.1', resolve));
      try {
        const child = spawn(process.execPath, ['examples/who-is-talking.js', '-i', 'lo', '-f', `udp port ${PORT}`, '--every', '60'], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        const ready = new Promise((resolve) => child.stdout.on('data', (d) => ((stdout += d), /capturing/.test(stdout) && resolve())));
        const exit = new Promise((resolve) => child.once('exit', resolve));
        await ready;
        // Measured on main as on this branch (load average ~15 on 2 cores): an interface capture on lo
        // misses datagrams sent in the first ~0.5 s after openCapturer() resolved. Not this example's
        // subject: it is reported, and the datagrams are sent once that has passed.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const a = spawn('python3', ['-c', sender(3)]);
        const b = spawn('python3', ['-c', sender(5)]);
        await Promise.all([a, b].map((c) => new Promise((resolve) => c.once('exit', resolve))));
        child.kill('SIGINT'); // ^C: the capture closes, having handed over every packet
        assert.equal(await exit, 0, stderr);
        assert.equal(stderr, '', 'the aborted loop ended quietly');
        const counts = Object.fromEntries([...stdout.matchAll(/^ +(\d+) {2}(\S+)$/gm)].map((m) => [m[2], Number(m[1])]));
        assert.equal(counts[`python3[${a.pid}]`], 3, stdout);
        assert.equal(counts[`python3[${b.pid}]`], 5, stdout);
        const receiver = Object.keys(counts).find((who) => who.endsWith(`[${process.pid}]`));
        assert.equal(counts[receiver], 8, stdout);
      } finally {
        sink.close();
      }
    });
  });

  describe('https-logger.js: HTTPS requests, no packets', function () {
    let cert;
    let server;
    let port;

    before(async function () {
      await requireFeature(this, 'uprobe');
      await requireFeature(this, 'cgroupCapture');
      cert = certificate();
      server = await startServer(process.execPath, ['-e', NODE_SERVER, cert.key, cert.cert], /listening \d+/);
      port = Number(/listening (\d+)/.exec(server.readyOutput)[1]);
    });

    after(async function () {
      await stop(server);
      if (cert) fs.rmSync(cert.dir, { recursive: true, force: true });
    });

    it("logs the command's requests (and none of another curl running meanwhile)", async function () {
      const others = run('sh', ['-c', `for i in 1 2 3 4 5; do curl -sk https://127.0.0.1:${port}/other; done`]);
      const r = await example('https-logger.js', [
        '--',
        'sh',
        '-c',
        `curl -sk https://127.0.0.1:${port}/first && curl -sk -X POST -d x https://127.0.0.1:${port}/second`,
      ]);
      await others;
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split('\n').filter((l) => / curl\[\d+\] /.test(l));
      assert.equal(lines.length, 2, r.stdout);
      assert.match(lines[0], new RegExp(`curl\\[\\d+\\] GET https://127\\.0\\.0\\.1:${port}/first$`));
      assert.match(lines[1], new RegExp(`curl\\[\\d+\\] POST https://127\\.0\\.0\\.1:${port}/second$`));
      assert.doesNotMatch(r.stdout, /other/);
    });
  });
});
