'use strict';
// TLS plaintext from Go's crypto/tls: a Go peer (helpers/go-tls) in four builds users
// ship, as a client of openssl s_server and as a server for curl, found by name, by its
// running process and at its exec. Each event's connection is checked against the
// packets of the same capture; a Conn over no socket has none.
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const { openCapturer } = require('..');
const { requirePrivileges } = require('./helpers/privileged');
const {
  certificate,
  startServer,
  startSServer,
  stop,
  runClient,
  watchCapture,
  goPeers,
  goToolchains,
  GO_BUILDS,
} = require('./helpers/tls-peers');
const { until } = require('./helpers/poll');

const text = (events) => Buffer.concat(events.map((e) => e.data)).toString('latin1');
const GO_FUNCTIONS = ['crypto/tls.(*Conn).Read', 'crypto/tls.(*Conn).Write', 'crypto/tls.(*Conn).Close'];

describe("TLS plugin: Go's crypto/tls", function () {
  let cert;
  let peers;
  let sServer;
  let sPort;
  let goServer;
  let goPort;
  let h2Server;
  let h2Port;
  let cap;
  const events = [];
  // Each connection the capture saw open (its SYN), as "client port>server port".
  const opened = new Set();
  let watching;

  before(async function () {
    this.timeout(600000); // the Go builds, in an emulated kernel's guest
    await requirePrivileges(this, ['go', 'openssl', 'curl']);
    peers = goPeers();
    cert = certificate();
    sPort = 20000 + ((process.pid + 7) % 20000);
    sServer = await startSServer(cert, sPort);
    goServer = await startServer(peers.default, ['server', cert.cert, cert.key, String(1024 * 1024)], /listening \d+/);
    goPort = Number(/listening (\d+)/.exec(goServer.readyOutput)[1]);
    h2Server = await startServer(peers.default, ['server', cert.cert, cert.key, '100', 'h2'], /listening \d+/);
    h2Port = Number(/listening (\d+)/.exec(h2Server.readyOutput)[1]);
  });

  after(async function () {
    await cap?.close();
    await watching;
    await stop(sServer);
    await stop(goServer);
    await stop(h2Server);
    if (cert) fs.rmSync(cert.dir, { recursive: true, force: true });
  });

  it('hooks Go binaries named in targets and the Go server already running, in every build', async function () {
    const named = [peers.stripped, peers.static, peers.pie];
    cap = await openCapturer({
      interfaces: ['lo'],
      filter: `tcp port ${sPort} or tcp port ${goPort} or tcp port ${h2Port}`,
      tls: { mode: 'required', targets: named },
    });
    assert.equal(cap.selection.tls.active, true, cap.selection.tls.reason);
    const version = execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
    // The running server's binary is found by its process: the default build.
    for (const file of [peers.default, ...named]) {
      const t = cap.tls.targets.find((x) => fs.realpathSync(x.path) === fs.realpathSync(file));
      assert.ok(t, `${file} hooked: ${JSON.stringify(cap.tls.skipped)}`);
      assert.equal(t.go, version);
      assert.deepEqual(t.functions, GO_FUNCTIONS);
      assert.equal(t.named, file !== peers.default);
    }
    watching = watchCapture(cap, events, opened);
  });

  const from = (pid, direction) => events.filter((e) => e.pid === pid && e.direction === direction);

  // The connection an event names is the one the packets show opening.
  const assertConnection = async (event, local, remote) => {
    assert.deepEqual(event.connection, {
      protocol: 'tcp',
      local: { address: '127.0.0.1', port: local },
      remote: { address: '127.0.0.1', port: remote },
    });
    const client = [sPort, goPort, h2Port].includes(remote) ? local : remote;
    const server = client === local ? remote : local;
    await until(`the SYN ${client}>${server}`, () => opened.has(`${client}>${server}`));
  };

  for (const build of ['default', 'stripped', 'static', 'pie']) {
    it(`a Go client (${build} build): request as a write, response as a read, on the connection the packets show`, async function () {
      const { pid, stdout } = await runClient(peers[build], ['client', `https://127.0.0.1:${sPort}/hello-go-${build}`]);
      const port = Number(stdout.split(' ')[0]);
      await until('the response', () => /HTTP\/1\.0 200 ok/.test(text(from(pid, 'read'))));
      assert.match(text(from(pid, 'write')), new RegExp(`^GET /hello-go-${build} HTTP/1\\.1\\r\\n`));
      const mine = events.filter((e) => e.pid === pid);
      assert.ok(mine.every((e) => fs.realpathSync(e.library) === fs.realpathSync(peers[build])));
      for (const e of mine) await assertConnection(e, port, sPort);
      assert.equal(new Set(mine.map((e) => e.stream)).size, 1, 'one connection, one stream');
    });
  }

  it('two connections one after the other: each its own stream and ports', async function () {
    const { pid, stdout } = await runClient(peers.default, ['client', '-conns', '2', `https://127.0.0.1:${sPort}/hello-go-twice`]);
    const ports = stdout
      .trim()
      .split('\n')
      .map((l) => Number(l.split(' ')[0]));
    await until('two responses', () => (text(from(pid, 'read')).match(/HTTP\/1\.0 200 ok/g) ?? []).length === 2);
    const streams = [];
    for (const [i, port] of ports.entries()) {
      const w = from(pid, 'write').find((e) => e.data.includes(`/hello-go-twice-${i} `));
      assert.ok(w, `request ${i}`);
      for (const e of events.filter((x) => x.pid === pid && x.stream === w.stream)) await assertConnection(e, port, sPort);
      streams.push(w.stream);
    }
    assert.notEqual(streams[0], streams[1]);
  });

  it('short-lived clients, four at a time: every request and every response, also the last before exit', async function () {
    // A program that exits right after its last response may never return from that
    // request's Write: the write must be taken all the same.
    const runs = [];
    for (let i = 0; i < 5; i++) {
      runs.push(
        ...(await Promise.all(
          ['default', 'stripped', 'static', 'pie'].map((b) =>
            runClient(peers[b], ['client', '-conns', '2', `https://127.0.0.1:${sPort}/burst-${b}-${i}`]),
          ),
        )),
      );
    }
    for (const { pid } of runs) {
      await until(`${pid}'s two responses`, () => (text(from(pid, 'read')).match(/HTTP\/1\.0 200 ok/g) ?? []).length === 2);
      const requests = from(pid, 'write').map((e) => /GET (\/burst-\S+) /.exec(e.data.toString('latin1'))?.[1]);
      assert.equal(requests.length, 2, `${pid}: ${requests}`);
      assert.ok(requests.every((r) => r && /-[01]$/.test(r)));
    }
  });

  it('a Go server: the request read, a 1 MiB response written whole and in order, on the server side of the connection', async function () {
    const body = execFileSync('curl', ['-sk', '--http1.1', `https://127.0.0.1:${goPort}/hello-go-server`], { maxBuffer: 4 << 20 });
    assert.equal(body.length, 1024 * 1024);
    const read = () => from(goServer.pid, 'read').find((e) => e.data.includes('GET /hello-go-server HTTP/1.1'));
    await until('the request, read by the server', () => read());
    const mine = () => events.filter((e) => e.pid === goServer.pid && e.stream === read().stream);
    const written = () => text(mine().filter((e) => e.direction === 'write'));
    await until('the whole response', () => written().length >= 1024 * 1024);
    assert.match(written(), /^HTTP\/1\.1 200 OK\r\n/);
    const sent = written().slice(written().indexOf('\r\n\r\n') + 4);
    assert.equal(sent.length, 1024 * 1024);
    assert.ok(/^g+$/.test(sent), 'the body, whole and nothing else');
    const curlPort = read().connection.remote.port;
    for (const e of mine()) await assertConnection(e, goPort, curlPort);
  });

  it('a Go server speaking HTTP/2 (ALPN h2) to curl: the frames both ways, on the connection', async function () {
    const body = execFileSync('curl', ['-sk', '--http2', `https://127.0.0.1:${h2Port}/hello-h2`]);
    assert.equal(body.toString(), 'g'.repeat(100));
    const mine = () => events.filter((e) => e.pid === h2Server.pid);
    // The client's connection preface, then frames: a DATA frame carries the body as is.
    await until('the body written', () => text(mine().filter((e) => e.direction === 'write')).includes('g'.repeat(100)));
    assert.match(text(mine().filter((e) => e.direction === 'read')), /^PRI \* HTTP\/2\.0\r\n\r\nSM\r\n\r\n/);
    const curlPort = mine()[0].connection.remote.port;
    for (const e of mine()) await assertConnection(e, h2Port, curlPort);
    assert.equal(new Set(mine().map((e) => e.stream)).size, 1);
  });

  // Every other Go installed (Debian's versioned ones: bookworm-backports has 1.22 and
  // 1.23, whose netFD layout differs), its default and stripped builds, hooked at exec.
  for (const { version, go } of goToolchains().slice(1)) {
    it(`${version}: a client in the default and stripped builds, hooked at its exec, on the connection`, async function () {
      this.timeout(600000);
      const builds = goPeers(go, { default: GO_BUILDS.default, stripped: GO_BUILDS.stripped });
      for (const [build, file] of Object.entries(builds)) {
        const child = spawn(file, ['client', '-wait', `https://127.0.0.1:${sPort}/hello-${version}-${build}`], {
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        const exited = new Promise((resolve) => child.once('exit', resolve));
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        await until('ready', () => out.includes('ready'));
        await until(
          `${file} hooked`,
          () => cap.tls.targets.some((t) => t.go === version && fs.realpathSync(t.path) === fs.realpathSync(file)),
          30000,
        );
        child.stdin.end('go\n');
        assert.equal(await exited, 0);
        const port = Number(out.split('\n')[1].split(' ')[0]);
        await until('the response', () => /HTTP\/1\.0 200 ok/.test(text(from(child.pid, 'read'))));
        assert.match(text(from(child.pid, 'write')), new RegExp(`^GET /hello-${version}-${build} HTTP/1\\.1\\r\\n`));
        for (const e of events.filter((x) => x.pid === child.pid)) await assertConnection(e, port, sPort);
      }
    });
  }

  it('a Go process started after open, named nowhere, is hooked at its exec', async function () {
    const child = spawn(peers.static, ['client', '-wait', `https://127.0.0.1:${sPort}/hello-go-late`], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await until('ready', () => out.includes('ready'));
    const key = (() => {
      const s = fs.statSync(`/proc/${child.pid}/exe`);
      return `${s.dev}:${s.ino}`;
    })();
    // The static build was named at open: a copy of it, which nothing named, runs here.
    assert.ok(cap.tls.targets.some((t) => t.key === key));
    child.stdin.end('go\n');
    assert.equal(await exited, 0);
    await until("the late process's request", () => from(child.pid, 'write').some((e) => e.data.includes('/hello-go-late')));

    const copy = `${cert.dir}/go-peer-copy`;
    fs.copyFileSync(peers.static, copy);
    fs.chmodSync(copy, 0o755);
    const late = spawn(copy, ['client', '-wait', `https://127.0.0.1:${sPort}/hello-go-copy`], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lateExit = new Promise((resolve) => late.once('exit', resolve));
    await until(
      'the copy hooked',
      () => cap.tls.targets.some((t) => t.go && fs.existsSync(t.path) && fs.realpathSync(t.path) === copy),
      30000,
    );
    late.stdin.end('go\n');
    assert.equal(await lateExit, 0);
    await until("the copy's request", () => from(late.pid, 'write').some((e) => e.data.includes('/hello-go-copy')));
    const w = from(late.pid, 'write').find((e) => e.data.includes('/hello-go-copy'));
    assert.ok(w.connection && w.connection.remote.port === sPort);
  });

  it('a Conn over net.Pipe: plaintext both ways, with no connection rather than a guess', async function () {
    const { pid, stdout } = await runClient(peers.default, ['pipe', cert.cert, cert.key]);
    assert.equal(stdout.trim(), 'pong:ping-over-a-pipe');
    await until('both sides', () => from(pid, 'read').length >= 2 && from(pid, 'write').length >= 2);
    assert.deepEqual(
      from(pid, 'write')
        .map((e) => e.data.toString())
        .sort(),
      ['ping-over-a-pipe', 'pong:ping-over-a-pipe'],
    );
    assert.deepEqual(
      from(pid, 'read')
        .map((e) => e.data.toString())
        .sort(),
      ['ping-over-a-pipe', 'pong:ping-over-a-pipe'],
    );
    for (const e of events.filter((x) => x.pid === pid)) {
      assert.equal(e.connection, undefined);
      assert.equal(e.fd, undefined);
    }
    assert.equal(new Set(events.filter((x) => x.pid === pid).map((e) => e.stream)).size, 2, 'two Conns, two streams');
  });

  it('counts nothing lost', function () {
    assert.deepEqual(cap.tls.stats().lost, { records: 0, truncatedBytes: 0, execScans: 0, secrets: 0 });
  });
});
