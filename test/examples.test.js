'use strict';
// Every command and example the README shows, and the scripts in examples/, run as
// written against real traffic on loopback and do what they claim; the lines they print
// are checked against tcpdump's. The README's commands are read from README.md itself:
// one this file does not check fails the suite.
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { openCapturer, probe } = require('..');
const { pcapFile } = require('./helpers/files');
const { until } = require('./helpers/poll');
const { requirePrivileges } = require('./helpers/privileged');
const { certificate, startServer, stop, runClient, NODE_SERVER } = require('./helpers/tls-peers');
const { startTcpdump } = require('./helpers/tools');

const ROOT = path.join(__dirname, '..');

/**
 * Starts `argv` (or a shell line, when given a string) in `cwd` with `env` added to the
 * environment; `stdout()` and `output()` are what it printed so far.
 */
function start(argv, { cwd = ROOT, env } = {}) {
  const [cmd, ...args] = typeof argv === 'string' ? ['bash', '-c', argv] : argv;
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, stdout: () => stdout, output: () => stdout + stderr };
}

/**
 * Runs a command from the repository root, calls `whenReady` once its output matches
 * `ready`, and resolves with its exit code and output when it ends.
 */
async function runExample(argv, { ready, whenReady } = {}) {
  const run = start(argv);
  if (ready) await until(`${argv[1]}: ${ready}`, () => ready.test(run.output()) || run.child.exitCode !== null, 60_000);
  try {
    await whenReady?.();
  } catch (err) {
    run.child.kill();
    throw err;
  }
  return run.done;
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

/** The README's fenced code blocks of one language, in order. */
function readmeBlocks(lang) {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === lang).map((m) => m[2]);
}

/** Each command line of the README's shell blocks, without its trailing comment. */
function readmeCommands() {
  return readmeBlocks('sh')
    .flatMap((block) => block.split('\n'))
    .map((line) => line.replace(/\s+# .*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Drops the columns before tcpdump's words (the time; for our lines also interface and direction). */
const words = (text, columns) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ').slice(columns).join(' '));

/** What tcpdump -q -nn prints for the packets it captured (its own text, time dropped). */
function tcpdumpLines(packets) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tw-readme-')), 'reference.pcap');
  fs.writeFileSync(file, pcapFile({ packets: packets.map((p) => ({ seconds: 0, fraction: 0, data: p.data, length: p.length })) }));
  const text = execFileSync('tcpdump', ['-q', '-nn', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return words(text, 1);
}

/** A free TCP port on loopback. */
async function freeTcpPort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe('the README', function () {
  this.timeout(Math.max(this.timeout(), 120_000));
  // The README's ports, replaced by free ones so that runs beside each other do not meet.
  const ports = { udp: 0, http: 0, https: 0 };
  const local = (line) =>
    line
      .replace(/\b9999\b/g, String(ports.udp))
      .replace(/\b8080\b/g, String(ports.http))
      .replace(/\b443\b/g, String(ports.https));
  let dir; // the shell lines' working directory; `tapwire` is on its PATH
  let env;
  let web;
  let tlsServer;
  let tlsCert;
  let features;

  before(async function () {
    await requirePrivileges(this, ['tcpdump', 'curl', 'openssl']);
    features = (await probe()).features;
    ports.udp = await freePort();
    ports.http = await freeTcpPort();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-readme-'));
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(
      path.join(dir, 'bin', 'tapwire'),
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(ROOT, 'bin', 'tapwire.js'))} "$@"\n`,
      {
        mode: 0o755,
      },
    );
    env = { PATH: `${path.join(dir, 'bin')}:${process.env.PATH}` };
    web = http.createServer((req, res) => res.end(`you asked for ${req.url}\n`));
    await new Promise((resolve) => web.listen(ports.http, '127.0.0.1', resolve));
    tlsCert = certificate();
    tlsServer = await startServer(process.execPath, ['-e', NODE_SERVER, tlsCert.key, tlsCert.cert], /listening \d+/);
    ports.https = Number(/listening (\d+)/.exec(tlsServer.readyOutput)[1]);
  });

  after(async function () {
    await stop(tlsServer);
    if (web) await new Promise((resolve) => web.close(resolve));
    for (const d of [dir, tlsCert?.dir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  /**
   * Runs a shell line of the README until it is listening, then `then()`; then, with
   * `stopAt`, waits for its stdout to match (`true`: no wait) and stops it with SIGINT
   * as a user's ^C would; resolves with how it ended.
   */
  async function runLine(line, { then, stopAt } = {}) {
    const run = start(local(line), { cwd: dir, env });
    try {
      await until(`${line}: listening`, () => /listening on/.test(run.output()) || run.child.exitCode !== null, 60_000);
      await then?.();
      if (stopAt && stopAt !== true) await until(`${line}: ${stopAt}`, () => stopAt.test(run.stdout()), 30_000);
    } catch (err) {
      // A line that never printed what was awaited is stopped (mocha would wait on it),
      // and what it did print goes with the failure.
      run.child.kill('SIGKILL');
      err.message += `\n--- its output:\n${run.output()}`;
      throw err;
    }
    if (stopAt) run.child.kill('SIGINT');
    return run.done;
  }

  // Not execFileSync: the http server answering it runs on this process's event loop.
  const curl = (url) => runClient('curl', ['-sk', '-o', '/dev/null', url]);
  const tcpdumpReads = (file) =>
    execFileSync('tcpdump', ['-q', '-nn', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean);

  // Each shell line the README shows, and how it is checked. `sudo npx tapwire` runs the
  // repository's own command here; `npm run test:package` runs the installed package's.
  const COMMANDS = {
    'npm install tapwire': () => {
      // Installing from the registry is the package check's (scripts/package-check/check.sh):
      // it packs this tree and installs that tarball into empty projects.
      assert.match(fs.readFileSync(path.join(ROOT, 'scripts/package-check/check.sh'), 'utf8'), /npm install .*"\$tarball"/);
    },
    'sudo npx tapwire probe': async () => {
      const r = await start(['tapwire', 'probe'], { cwd: dir, env }).done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^backend 'auto' chooses: (ebpf|raw-socket)$/m);
    },
    "sudo npx tapwire capture -i lo -c 10 'udp'": async () => {
      const run = start(['tapwire', 'capture', '-i', 'lo', '-c', '10', 'udp'], { cwd: dir, env });
      await until('listening', () => /listening on lo/.test(run.output()), 60_000);
      const socket = dgram.createSocket('udp4');
      while (run.child.exitCode === null) {
        socket.send('hi', ports.udp, '127.0.0.1');
        await sleep(20);
      }
      socket.close();
      const r = await run.done;
      assert.equal(r.code, 0, r.stderr);
      const lines = words(r.stdout, 1);
      assert.equal(lines.length, 10, r.stdout);
      for (const l of lines) assert.match(l, /^IP6? \S+ > \S+: UDP, length \d+$/);
    },
    "bash scripts/setup.sh && { node examples/capture.js lo 'udp port 9999' 3 & sleep 1; for i in 1 2 3; do echo hi >/dev/udp/127.0.0.1/9999; done; wait; }":
      async (line) => {
        // The setup is the suite's own. The capture and the datagrams run as written, with
        // tcpdump beside them; the datagrams go once the capture says it is on rather than
        // after `sleep 1`, which a machine this loaded can outlast.
        const [, capture, send] = /^bash scripts\/setup\.sh && \{ (.+) & sleep 1; (for .+ done); wait; \}$/.exec(line);
        const dump = await startTcpdump('lo', `udp port ${ports.udp}`);
        const run = start(local(capture));
        await until('capturing', () => /^capturing on lo/m.test(run.stdout()) || run.child.exitCode !== null, 60_000);
        execFileSync('bash', ['-c', local(send)]);
        const r = await run.done;
        const { packets } = await dump.stop();
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^capturing on lo with the (ebpf|raw-socket) backend for 3s$/m);
        const lines = r.stdout.split('\n').filter((l) => / lo In {2}IP /.test(l));
        assert.equal(lines.length, 3, r.stdout);
        for (const l of lines) assert.match(l, new RegExp(` IP 127\\.0\\.0\\.1\\.\\d+ > 127\\.0\\.0\\.1\\.${ports.udp}: UDP, length 3$`));
        assert.deepEqual(
          lines.map((l) => l.replace(/^\S+ lo In {2}/, '')),
          tcpdumpLines(packets),
        );
        assert.match(r.stdout, /^3 packets captured, \d+ bytes, 0 dropped$/m);
      },
    'bash scripts/setup.sh && CI=true npm test': () => {
      // This is the suite itself; .ci/run runs it so (setup, then `npm test` on each kernel).
      assert.match(fs.readFileSync(path.join(ROOT, '.ci/run'), 'utf8'), /^export CI=true$[\s\S]*^bash scripts\/setup\.sh /m);
      assert.match(fs.readFileSync(path.join(ROOT, 'scripts/kernels/matrix.sh'), 'utf8'), /exec npm test /);
    },
    'tapwire probe': async (line) => {
      const r = await start(line, { cwd: dir, env }).done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^features:$/m);
      assert.match(r.stdout, /^TLS capture \(tls: 'auto'\): /m);
    },
    'tapwire capture -D': async (line) => {
      const r = await start(line, { cwd: dir, env }).done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^1\.lo \[Up\]$/m);
    },
    "tapwire capture -i lo -c 5 'udp port 9999'": async (line) => {
      const r = await runLine(line, { then: () => sendDatagrams(ports.udp, 5) });
      assert.equal(r.code, 0, r.stderr);
      const lines = words(r.stdout, 1);
      assert.equal(lines.length, 5, r.stdout);
      for (const l of lines) assert.match(l, new RegExp(`^IP 127\\.0\\.0\\.1\\.\\d+ > 127\\.0\\.0\\.1\\.${ports.udp}: UDP, length 10$`));
    },
    "tapwire capture -i lo -w out.pcapng 'udp port 9999'": async (line) => {
      const r = await runLine(line, { then: () => sendDatagrams(ports.udp, 3), stopAt: true });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^3 packets captured$/m);
      assert.equal(tcpdumpReads(path.join(dir, 'out.pcapng')).length, 3);
    },
    "tapwire capture -r out.pcapng -Q in 'udp'": async (line) => {
      // The file the line above wrote: its three datagrams, arriving on lo.
      const r = await start(line, { cwd: dir, env }).done;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(words(r.stdout, 1), words(tcpdumpReads(path.join(dir, 'out.pcapng')).join('\n'), 1));
      assert.equal(words(r.stdout, 1).length, 3);
    },
    "tapwire capture -i lo -w 'cap-%H%M%S.pcapng' -G 60 'udp port 9999'": async (line) => {
      const r = await runLine(line, { then: () => sendDatagrams(ports.udp, 4), stopAt: true });
      assert.equal(r.code, 0, r.stderr);
      const files = fs.readdirSync(dir).filter((f) => f.startsWith('cap-'));
      assert.ok(files.length >= 1 && files.every((f) => /^cap-\d{6}\.pcapng$/.test(f)), files.join(', '));
      assert.equal(files.flatMap((f) => tcpdumpReads(path.join(dir, f))).length, 4);
    },
    "tapwire capture -i lo -P 'tcp port 8080'": async function (line) {
      if (!features.tcxAttribution.ok) this.skip(); // the probe's reason: no tcx on this kernel
      // On lo a packet is captured arriving: `pid` is its receiver, `peer` its sender.
      const sent = new RegExp(`peer \\d+ \\(curl\\) IP 127\\.0\\.0\\.1\\.\\d+ > 127\\.0\\.0\\.1\\.${ports.http}: tcp \\d+$`, 'm');
      const r = await runLine(line, { then: () => curl(`http://127.0.0.1:${ports.http}/`), stopAt: sent });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, sent);
    },
    "tapwire capture -i lo --tls=required 'tcp port 443'": async function (line) {
      const call = /^\S+ TLS write pid \d+ \(curl\) \d+ bytes: GET \/readme-cli HTTP\/1\.1/m;
      const r = await runLine(line, { then: () => curl(`https://127.0.0.1:${ports.https}/readme-cli`), stopAt: call });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, call);
      assert.match(r.stdout, new RegExp(`IP 127\\.0\\.0\\.1\\.\\d+ > 127\\.0\\.0\\.1\\.${ports.https}: tcp \\d+$`, 'm'));
    },
    "tapwire http -i lo 'tcp port 8080'": async (line) => {
      const exchange = new RegExp(`^\\S+ GET http://127\\.0\\.0\\.1:${ports.http}/readme-http \\d{3} [\\d.]+ (µs|ms|s) HTTP/1\\.1$`, 'm');
      const r = await runLine(line, { then: () => curl(`http://127.0.0.1:${ports.http}/readme-http`), stopAt: exchange });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, exchange);
    },
    'tapwire capture -w curl.pcapng -- curl -s http://127.0.0.1:8080/': async function (line) {
      if (!features.cgroupCapture.ok) this.skip(); // the probe's reason
      const r = await start(local(line), { cwd: dir, env }).done;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'you asked for /\n');
      const lines = tcpdumpReads(path.join(dir, 'curl.pcapng'));
      assert.ok(lines.length >= 6, lines.join('\n'));
      for (const l of words(lines.join('\n'), 1)) assert.match(l, /^IP 127\.0\.0\.1\.\d+ > 127\.0\.0\.1\.\d+: tcp \d+$/);
    },
  };

  it('shows no command that this file does not check, and every one it checks', function () {
    assert.deepEqual(readmeCommands().sort(), Object.keys(COMMANDS).sort());
  });

  for (const [line, check] of Object.entries(COMMANDS)) {
    it(`$ ${line}`, async function () {
      await check.call(this, line);
    });
  }

  // The README's JavaScript examples, each run as an ES module as it is printed.
  const EXAMPLES = [
    {
      name: 'a capture loop printing decoded lines',
      is: /openCapturer\(\{ interfaces: \['lo'\], filter: 'udp port 9999' \}\)/,
      async check(run) {
        await until('capturing', () => /^capturing with (ebpf|raw-socket): /m.test(run.output()), 60_000);
        const dump = await startTcpdump('lo', `udp port ${ports.udp}`);
        await sendDatagrams(ports.udp, 3);
        await until('three lines', () => (run.stdout().match(/^lo in IP /gm) ?? []).length === 3, 30_000);
        const { packets } = await dump.stop();
        run.child.kill('SIGINT');
        const r = await run.done;
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.split('\n').filter((l) => l.startsWith('lo in '));
        assert.deepEqual(words(lines.join('\n'), 2), tcpdumpLines(packets));
        assert.match(r.stdout, /packets: 3,/);
      },
    },
    {
      name: 'TLS plaintext',
      is: /tls: 'required'/,
      async check(run) {
        await until('TLS on', () => /^TLS capture is on: /m.test(run.output()), 60_000);
        const { pid } = await runClient('curl', ['-sk', `https://127.0.0.1:${ports.https}/readme-example`]);
        await until('the request', () => new RegExp(`^${pid} curl write "GET /readme-example HTTP/1.1`, 'm').test(run.stdout()), 30_000);
        await until('the response', () => new RegExp(`^${pid} curl read "HTTP/1.1 200 OK`, 'm').test(run.stdout()), 30_000);
        run.child.kill('SIGINT');
        await run.done;
      },
    },
    {
      name: "one command's traffic in a test",
      is: /captureCommand/,
      async check(run) {
        if (!features.cgroupCapture.ok) this.skip(); // the probe's reason
        const r = await run.done;
        assert.equal(r.code, 0, r.stderr);
        const n = Number(/^(\d+) packets, all between 127\.0\.0\.1 and 127\.0\.0\.1$/m.exec(r.stdout)?.[1]);
        assert.ok(n >= 6, r.stdout);
      },
    },
  ];

  it('shows exactly these JavaScript examples', function () {
    const blocks = readmeBlocks('js');
    assert.equal(blocks.length, EXAMPLES.length);
    for (const example of EXAMPLES) assert.equal(blocks.filter((b) => example.is.test(b)).length, 1, example.name);
  });

  for (const example of EXAMPLES) {
    it(`example: ${example.name}`, async function () {
      const code = readmeBlocks('js').find((b) => example.is.test(b));
      assert.ok(code, `the README has no example of ${example.name}`);
      const run = start([process.execPath, '--input-type=module', '-e', local(code)]);
      try {
        await example.check.call(this, run);
      } finally {
        run.child.kill('SIGKILL');
      }
    });
  }
});
