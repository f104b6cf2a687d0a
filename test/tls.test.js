'use strict';
// TLS plaintext from real clients and servers, none written by us: curl, openssl
// s_client, Python's ssl, Node's https (client and server), wget and gnutls-cli
// (GnuTLS), against openssl s_server and a Node https server, all on loopback. Each
// event's connection is checked against the packets of the same capture.
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { openCapturer, tlsPlugin, MAX_CALL_BYTES } = require('..');
const { requirePrivileges } = require('./helpers/privileged');
const { certificate, startServer, startSServer, stop, runClient, watchCapture, NODE_SERVER } = require('./helpers/tls-peers');
const { runChildUntilReady } = require('./helpers/hosts');
const { until } = require('./helpers/poll');
const { bpfList } = require('./helpers/bpftool');
const { built } = require('./helpers/built');

const MiB = 1024 * 1024;

// Every program of the TLS plugin: uprobes (tw_ssl_*, tw_tls_free, tw_gnutls_*, tw_go_*), the syscall and the exec hooks.
const TLS_PROGRAM = /^tw_(ssl_|tls_|gnutls_|go_|sys_|exec$)/;

function progIds() {
  const progs = bpfList('prog');
  return new Set(progs.filter((p) => TLS_PROGRAM.test(p.name ?? '')).map((p) => p.id));
}

const text = (events) => Buffer.concat(events.map((e) => e.data)).toString('latin1');

/** A TLS client (test/helpers/ssl-static.c) with OpenSSL linked in statically, its symbols kept. */
function staticProgram() {
  const source = path.join(__dirname, 'helpers', 'ssl-static.c');
  const args = ['-O1', '-o', 'ssl-static', source, '-Wl,-Bstatic', '-lssl', '-lcrypto', '-Wl,-Bdynamic'];
  const dir = built('ssl-static', [source], JSON.stringify(args), (into) => execFileSync('cc', args, { cwd: into, stdio: 'pipe' }));
  return path.join(dir, 'ssl-static');
}

describe('TLS plugin: plaintext from OpenSSL through uprobes', function () {
  let cert;
  let sServer;
  let sPort;
  let nodeServer;
  let nodePort;
  let cap;
  const events = [];
  // Each connection the capture saw open (its SYN), as "client port>server port".
  const opened = new Set();
  let watching;

  before(async function () {
    await requirePrivileges(this, ['openssl', 'curl', 'python3', 'bpftool', 'tshark', 'gnutls-cli', 'wget']);
    cert = certificate();
    sPort = 20000 + (process.pid % 20000);
    sServer = await startSServer(cert, sPort);
    nodeServer = await startServer(process.execPath, ['-e', NODE_SERVER, cert.key, cert.cert], /listening \d+/);
    nodePort = Number(/listening (\d+)/.exec(nodeServer.readyOutput)[1]);
  });

  after(async function () {
    await cap?.close();
    await watching;
    await stop(sServer);
    await stop(nodeServer);
    if (cert) fs.rmSync(cert.dir, { recursive: true, force: true });
  });

  it("openCapturer({ tls: 'required' }) captures packets and registers the plugin as cap.tls", async function () {
    cap = await openCapturer({ interfaces: ['lo'], filter: `tcp port ${sPort}`, tls: 'required' });
    assert.equal(cap.backend, 'ebpf');
    assert.equal(cap.selection.tls.active, true, cap.selection.tls.reason);
    assert.ok(cap.tls);
    assert.ok(cap.tls.targets.some((t) => /libssl\.so/.test(t.path)));
    assert.ok(cap.tls.targets.some((t) => t.path === fs.realpathSync(process.execPath)));
    watching = watchCapture(cap, events, opened);
  });

  // The connection an event names is the one the packets show: the client's port opened
  // a connection to the server in this capture.
  const assertConnection = (event, localPort) => {
    assert.ok(event.connection, `${event.comm} ${event.direction}: a connection`);
    assert.deepEqual(event.connection, {
      protocol: 'tcp',
      local: { address: '127.0.0.1', port: localPort },
      remote: { address: '127.0.0.1', port: sPort },
    });
  };
  const clientPort = async (pid) => {
    const ports = [...new Set(events.filter((e) => e.pid === pid && e.connection).map((e) => e.connection.local.port))];
    assert.equal(ports.length, 1, `one connection from ${pid}: ${ports}`);
    await until(`the SYN from port ${ports[0]}`, () => opened.has(`${ports[0]}>${sPort}`));
    return ports[0];
  };

  const from = (pid, direction) => events.filter((e) => e.pid === pid && e.direction === direction);

  it('curl: the request line as a write and the response as a read, from curl', async function () {
    const { pid } = await runClient('curl', ['-sk', '--http1.1', `https://127.0.0.1:${sPort}/hello-curl`]);
    await until("curl's response", () => /HTTP\/1\.0 200/.test(text(from(pid, 'read'))));
    assert.match(text(from(pid, 'write')), /^GET \/hello-curl HTTP\/1\.1\r\n/);
    const w = from(pid, 'write')[0];
    assert.equal(w.comm, 'curl');
    assert.match(w.library, /libssl\.so/);
    // curl reads and writes its socket through its own BIO: the connection comes from
    // the socket the call used, found by its syscalls.
    const port = await clientPort(pid);
    for (const e of events.filter((x) => x.pid === pid)) assertConnection(e, port);
  });

  it('openssl s_server -www (reads and writes through BIO_f_ssl): the request read and the page written, with the connection', async function () {
    const { pid } = await runClient('curl', ['-sk', '--http1.1', `https://127.0.0.1:${sPort}/hello-www`]);
    const server = sServer.pid;
    // The server answered earlier tests' requests too: this one's are told by curl's pid and the path.
    await until("s_server's read of the request", () => /GET \/hello-www HTTP\/1\.1\r\n/.test(text(from(server, 'read'))));
    await until("curl's read of s_server's page", () => /HTTP\/1\.0 200 ok/.test(text(from(pid, 'read'))));
    const reads = from(server, 'read').length;
    assert.ok(
      from(server, 'write').some((e) => e.timestampNs > from(server, 'read')[reads - 1].timestampNs),
      'the page written after the request read',
    );
    // Its reads and writes go through ssl_read_internal and ssl_write_internal, hooked
    // in place of the exported functions: never twice for one call.
    const lib = cap.tls.targets.find((t) => t.functions.includes('ssl_read_internal'));
    assert.ok(lib, `a library hooked at its internal functions: ${JSON.stringify(cap.tls.targets)}`);
    assert.ok(!lib.functions.includes('SSL_read'));
    assert.equal(text(from(pid, 'read')).split('HTTP/1.0 200 ok').length, 2, 'the page read once by curl');
    // The server's side of the connection curl opened: curl's port is the remote one.
    const port = await clientPort(pid);
    const mine = from(server, 'read').filter((e) => /hello-www/.test(e.data.toString('latin1')));
    assert.equal(mine.length, 1);
    assert.deepEqual(mine[0].connection, {
      protocol: 'tcp',
      local: { address: '127.0.0.1', port: sPort },
      remote: { address: '127.0.0.1', port },
    });
  });

  for (const [client, args, request] of [
    ['gnutls-cli', (port) => ['--insecure', '-p', String(port), '127.0.0.1'], 'GET /hello-gnutls HTTP/1.0\r\n\r\n'],
    ['wget', (port) => ['-q', '-O', '-', '--no-check-certificate', `https://127.0.0.1:${port}/hello-wget`], ''],
  ]) {
    it(`GnuTLS (${client}): request as a write, response as a read, with the connection the packets show`, async function () {
      const { pid } = await runClient(client, args(sPort), request);
      await until(`${client}'s response`, () => /HTTP\/1\.0 200/.test(text(from(pid, 'read'))));
      assert.match(text(from(pid, 'write')), /GET \/hello-(gnutls|wget) HTTP\/1\.[01]\r\n/);
      assert.ok(from(pid, 'write').every((e) => e.comm === client && /libgnutls\.so/.test(e.library)));
      const port = await clientPort(pid);
      for (const e of events.filter((x) => x.pid === pid)) assertConnection(e, port);
      assert.equal(new Set(events.filter((x) => x.pid === pid).map((e) => e.stream)).size, 1, 'one connection, one stream');
    });
  }

  it('openssl s_client: request as a write, response as a read', async function () {
    const { pid } = await runClient(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${sPort}`, '-quiet'],
      'GET /hello-s-client HTTP/1.0\r\n\r\n',
    );
    await until("s_client's response", () => /HTTP\/1\.0 200/.test(text(from(pid, 'read'))));
    assert.match(text(from(pid, 'write')), /GET \/hello-s-client HTTP\/1\.0/);
  });

  it("Python's ssl, two connections one after the other: each event names its own stream and ports", async function () {
    // The second SSL object is often allocated where the first was freed: neither the
    // stream nor the connection may carry over.
    const script = `
import socket, ssl, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for i in range(2):
    s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', ${sPort})))
    print(s.getsockname()[1], flush=True)
    s.sendall(b'GET /hello-python-%d HTTP/1.0\\r\\n\\r\\n' % i)
    data = b''
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    s.close()
`;
    const { pid, stdout } = await runClient('python3', ['-c', script]);
    const ports = stdout.trim().split('\n').map(Number);
    assert.equal(ports.length, 2);
    await until("python's two responses", () => (text(from(pid, 'read')).match(/HTTP\/1\.0 200/g) ?? []).length === 2);
    const streams = [];
    for (const [i, port] of ports.entries()) {
      const w = from(pid, 'write').find((e) => e.data.includes(`hello-python-${i} `));
      assert.ok(w, `request ${i} was captured`);
      assert.ok(w.fd >= 0, 'Python reads and writes through a socket BIO: the fd is known');
      await until(`the SYN from port ${port}`, () => opened.has(`${port}>${sPort}`));
      for (const e of events.filter((x) => x.pid === pid && x.stream === w.stream)) assertConnection(e, port);
      streams.push(w.stream);
    }
    assert.notEqual(streams[0], streams[1]);
  });

  it('a process started after open, with its own copy of libssl on LD_LIBRARY_PATH, is hooked at its exec', async function () {
    const system = cap.tls.targets.find((t) => /\/libssl\.so\.3$/.test(t.path) && !t.path.startsWith('/proc/'));
    assert.ok(system, `a libssl.so.3 hooked at open: ${cap.tls.targets.map((t) => t.path)}`);
    const dir = fs.mkdtempSync(path.join(cert.dir, 'own-lib-'));
    const copy = path.join(dir, 'libssl.so.3');
    fs.copyFileSync(system.path, copy);
    assert.ok(!cap.tls.targets.some((t) => t.path === copy), 'the copy is not hooked before the process starts');
    // The library is mapped at start (import ssl); the process connects only once the
    // scans that follow its exec have hooked the copy (emulated kernels are slow).
    const script = `
import socket, ssl, sys
print('imported', flush=True)
sys.stdin.readline()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', ${sPort})))
s.sendall(b'GET /hello-late HTTP/1.0\\r\\n\\r\\n')
while s.recv(65536): pass
`;
    const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, LD_LIBRARY_PATH: dir } });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const pid = child.pid;
    await new Promise((resolve) => child.stdout.once('data', resolve));
    await until('the copy hooked', () => cap.tls.targets.some((t) => t.path === copy), 30000);
    child.stdin.end('go\n');
    assert.equal(await exited, 0);
    await until("the late process's request", () => from(pid, 'write').some((e) => e.data.includes('/hello-late')));
    const w = from(pid, 'write').find((e) => e.data.includes('/hello-late'));
    assert.equal(w.library, copy, 'the call was in the copy, not the system library');
    assert.ok(cap.tls.targets.some((t) => t.path === copy && t.functions.some((f) => /^(SSL_write|ssl_write_internal)$/.test(f))));
    assert.ok(w.connection && w.connection.remote.port === sPort);
  });

  it('a program linking OpenSSL in statically (its symbols kept), started after open and named nowhere, is hooked at its exec', async function () {
    const program = staticProgram();
    const child = spawn(program, [String(sPort), '/hello-static'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await until('ready', () => out.includes('ready'));
    const stat = fs.statSync(`/proc/${child.pid}/exe`);
    const key = `${stat.dev}:${stat.ino}`;
    await until('the program hooked', () => cap.tls.targets.some((t) => t.key === key), 30000);
    const target = cap.tls.targets.find((t) => t.key === key);
    assert.equal(target.path, fs.realpathSync(program));
    assert.ok(
      target.functions.some((f) => /^SSL_(read|write)/.test(f)),
      `${target.functions}`,
    );
    child.stdin.end('go\n');
    assert.equal(await exited, 0);
    assert.match(out, /HTTP\/1\.0 200/);
    await until("the program's response", () => /HTTP\/1\.0 200/.test(text(from(child.pid, 'read'))));
    assert.match(text(from(child.pid, 'write')), /^GET \/hello-static HTTP\/1\.0\r\n/);
    assert.equal(from(child.pid, 'write')[0].library, target.path);
    // OpenSSL 3's struct layout, told by its symbols: the connection from its socket BIO.
    const port = await clientPort(child.pid);
    for (const e of events.filter((x) => x.pid === child.pid)) assertConnection(e, port);
  });

  it('captureCommand of a program linking OpenSSL in statically: hooked before it starts, named in targets', async function () {
    const { captureCommand } = require('..');
    const run = await captureCommand(staticProgram(), [String(sPort), '/hello-static-command'], {
      tls: 'required',
      filter: `tcp port ${sPort}`,
      spawn: { stdio: ['pipe', 'pipe', 'inherit'] },
    });
    const seen = [];
    const reading = (async () => {
      for await (const e of run.capturer.tls) seen.push(e);
    })();
    const target = run.capturer.tls.targets.find((t) => t.path === fs.realpathSync(staticProgram()));
    assert.ok(target?.named, `the command's own executable is a named target: ${run.capturer.tls.targets.map((t) => t.path)}`);
    run.child.stdin.end('go\n');
    assert.deepEqual(await run.exited, { code: 0, signal: null });
    await reading;
    assert.match(text(seen.filter((e) => e.direction === 'write')), /^GET \/hello-static-command HTTP\/1\.0\r\n/);
    assert.match(text(seen.filter((e) => e.direction === 'read')), /HTTP\/1\.0 200/);
  });

  it("Node's https client: request and response from the node binary", async function () {
    const script = `require('https').get({ host: '127.0.0.1', port: ${sPort}, path: '/hello-node', rejectUnauthorized: false },
      (r) => { r.resume(); r.on('end', () => process.exit(0)); });`;
    const { pid } = await runClient(process.execPath, ['-e', script]);
    await until("node's response", () => /HTTP\/1\.0 200/.test(text(from(pid, 'read'))));
    const w = from(pid, 'write').find((e) => /GET \/hello-node HTTP\/1\.1/.test(e.data));
    assert.ok(w, 'the request was captured');
    assert.equal(w.library, fs.realpathSync(process.execPath));
    // Node's TLS goes through memory BIOs: no socket is touched inside the calls, so
    // the connection is not known, and not guessed.
    assert.equal(w.connection, undefined);
  });

  it('a Node https server and a Node client: both sides, 1 MiB each way, whole and in order', async function () {
    const script = `
const body = Buffer.alloc(${MiB}); for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 255;
const req = require('https').request({ host: '127.0.0.1', port: ${nodePort}, method: 'POST', path: '/big',
  headers: { 'content-length': body.length }, rejectUnauthorized: false }, (r) => {
  let n = 0; r.on('data', (d) => (n += d.length)); r.on('end', () => { console.log(n); process.exit(0); });
});
req.end(body);`;
    const { pid, stdout } = await runClient(process.execPath, ['-e', script]);
    assert.equal(Number(stdout.trim()), MiB);
    const server = nodeServer.pid;
    const expectBody = (all, pattern) => {
      const start = all.indexOf('\r\n\r\n') + 4;
      const body = Buffer.from(all.slice(start), 'latin1');
      assert.equal(body.length, MiB);
      for (let i = 0; i < MiB; i++) if (body[i] !== pattern(i)) assert.fail(`byte ${i} is ${body[i]}`);
    };
    await until(
      `the server's whole request (${text(from(server, 'read')).length} bytes read by ${server})`,
      () => text(from(server, 'read')).length >= MiB,
    );
    await until("the client's whole response", () => text(from(pid, 'read')).length >= MiB);
    expectBody(text(from(server, 'read').filter((e) => e.stream === from(server, 'read').at(-1).stream)), (i) => (i * 7) & 255);
    expectBody(text(from(pid, 'read')), (i) => i & 255);
    // The request body went to SSL_write in one call: its first MAX_CALL_BYTES arrive.
    const sent = Buffer.from(text(from(pid, 'write')), 'latin1');
    const start = sent.indexOf('\r\n\r\n') + 4;
    assert.ok(from(pid, 'write').some((e) => e.truncated));
    for (let i = start; i < sent.length; i++) if (sent[i] !== ((i - start) * 7) % 256) assert.fail(`sent byte ${i - start}`);
  });

  it('50 concurrent requests never mix data between connections', async function () {
    const script = `
const https = require('https'); const agent = new https.Agent({ maxSockets: 50 });
let left = 50;
for (let i = 0; i < 50; i++) https.get({ host: '127.0.0.1', port: ${nodePort}, path: '/r/' + i, agent, rejectUnauthorized: false },
  (r) => { r.resume(); r.on('end', () => { if (--left === 0) process.exit(0); }); });`;
    const { pid } = await runClient(process.execPath, ['-e', script]);
    await until('50 responses', () => from(pid, 'read').filter((e) => /path=\/r\/\d+/.test(e.data)).length >= 50);
    const streams = new Map();
    for (const e of events.filter((x) => x.pid === pid)) {
      const s = streams.get(e.stream) ?? { writes: '', reads: '' };
      if (e.direction === 'write') s.writes += e.data.toString('latin1');
      else s.reads += e.data.toString('latin1');
      streams.set(e.stream, s);
    }
    let checked = 0;
    for (const { writes, reads } of streams.values()) {
      const asked = [...writes.matchAll(/GET \/r\/(\d+) /g)].map((m) => m[1]);
      const answered = [...reads.matchAll(/path=\/r\/(\d+)/g)].map((m) => m[1]);
      assert.deepEqual(answered, asked, 'each connection gets the answers to its own requests');
      checked += asked.length;
    }
    assert.equal(checked, 50);
  });

  it('the pid restriction captures only the named process', async function () {
    const waiting = `process.stdin.once('data', () => require('https').get({ host: '127.0.0.1', port: ${nodePort}, path: '/only-' + process.pid,
      rejectUnauthorized: false }, (r) => { r.resume(); r.on('end', () => process.exit(0)); }));`;
    const a = spawn(process.execPath, ['-e', waiting], { stdio: ['pipe', 'ignore', 'ignore'] });
    const b = spawn(process.execPath, ['-e', waiting], { stdio: ['pipe', 'ignore', 'ignore'] });
    const only = await openCapturer({ backend: 'ebpf', interfaces: ['lo'], filter: 'tcp port 1' });
    const plugin = tlsPlugin({ pids: [a.pid] });
    only.use(plugin);
    const seen = [];
    const loop = (async () => {
      for await (const e of plugin) seen.push(e);
    })();
    const done = Promise.all([a, b].map((c) => new Promise((resolve) => c.once('exit', resolve))));
    a.stdin.end('go');
    b.stdin.end('go');
    await done;
    await until("the named process's request", () => seen.some((e) => e.direction === 'write' && e.data.includes(`/only-${a.pid}`)));
    await only.close();
    await loop;
    assert.ok(seen.length > 0);
    assert.deepEqual([...new Set(seen.map((e) => e.pid))], [a.pid]);
  });

  it('tapwire capture --tls -w writes the plaintext as HTTP that tshark dissects', async function () {
    const file = path.join(cert.dir, 'tls.pcapng');
    const bin = path.join(__dirname, '..', 'bin', 'tapwire.js');
    const child = spawn(process.execPath, [bin, 'capture', '-i', 'lo', '--tls=required', '-w', file, `tcp port ${sPort}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    await new Promise((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/TLS capture is on/.test(stderr)) resolve();
      });
      child.on('exit', (code) => reject(new Error(`tapwire exited ${code}: ${stderr}`)));
    });
    await runClient('curl', ['-sk', '--http1.1', `https://127.0.0.1:${sPort}/hello-cli`]);
    await until('the request in the file', () => fs.existsSync(file) && fs.readFileSync(file).includes('GET /hello-cli'));
    const exited = new Promise((resolve) => child.once('close', resolve));
    child.removeAllListeners('exit');
    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /^tapwire: TLS capture is on: hooked \//m);
    assert.equal(stderr.match(/TLS capture/g).length, 1, stderr);
    const uris = execFileSync('tshark', ['-r', file, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri'], { encoding: 'utf8' });
    assert.match(uris, /^\/hello-cli$/m);
    const packets = execFileSync('tshark', ['-r', file, '-Y', `tcp.port == ${sPort}`, '-T', 'fields', '-e', 'frame.number'], {
      encoding: 'utf8',
    });
    assert.ok(packets.trim().split('\n').length > 5, 'the TLS packets are in the same file');
  });

  it("leaves this process's own TLS calls out unless includeSelf is set", async function () {
    const https = require('node:https');
    const get = (p) =>
      new Promise((resolve, reject) =>
        https
          .get({ host: '127.0.0.1', port: nodePort, path: p, rejectUnauthorized: false }, (r) => r.resume().on('end', resolve))
          .on('error', reject),
      );
    const self = await openCapturer({ backend: 'ebpf', interfaces: ['lo'], filter: 'tcp port 1' });
    const plugin = tlsPlugin({ includeSelf: true });
    self.use(plugin);
    const mine = [];
    const loop = (async () => {
      for await (const e of plugin) if (e.pid === process.pid) mine.push(e);
    })();
    await get('/self-included');
    await until('our own request', () => mine.some((e) => e.data.includes('/self-included')));
    await self.close();
    await loop;
    await get('/self-excluded');
    await until('the server saw it', () => text(from(nodeServer.pid, 'read')).includes('/self-excluded'));
    assert.equal(events.filter((e) => e.pid === process.pid).length, 0, 'cap.tls (default options) saw none of our calls');
  });

  it('the raw-socket backend takes no plugin: ERR_PLUGIN_UNSUPPORTED', async function () {
    const raw = await openCapturer({ backend: 'raw-socket', interfaces: ['lo'], filter: 'tcp port 1' });
    try {
      assert.throws(() => raw.use(tlsPlugin()), { code: 'ERR_PLUGIN_UNSUPPORTED' });
    } finally {
      await raw.close();
    }
  });

  it('no uprobe program of ours remains after close or after SIGKILL', async function () {
    const before = progIds();
    const own = await openCapturer({ backend: 'ebpf', interfaces: ['lo'], filter: 'tcp port 1', tls: 'required' });
    const mine = [...progIds()].filter((id) => !before.has(id));
    assert.ok(mine.length >= 5, 'entry and return programs loaded');
    // The kernel removes uprobes one by one, each after a grace period: that happens on a
    // worker thread, and this thread's timers run meanwhile.
    let ticked = false;
    const unhooked = own.tls.close();
    setTimeout(() => (ticked = true), 0);
    assert.equal(own.tls.close(), unhooked, 'one close, however often asked');
    await unhooked;
    assert.ok(ticked, 'a timer ran while the uprobes were removed');
    await own.close();
    await until('programs freed after close', () => mine.every((id) => !progIds().has(id)));

    const child = await runChildUntilReady({
      backend: 'ebpf',
      interfaces: ['lo'],
      filter: 'tcp port 1',
      tls: 'required',
      count: 1e9,
      timeout: 60000,
    });
    const theirs = [...progIds()].filter((id) => !before.has(id));
    assert.ok(theirs.length >= 5);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await until('programs freed after SIGKILL', () => theirs.every((id) => !progIds().has(id)));
  });

  it('counts what it could not deliver: nothing lost, and the bytes of calls over MAX_CALL_BYTES', function () {
    const s = cap.tls.stats();
    assert.ok(s.events > 0);
    assert.equal(s.lost.records, 0);
    // Node hands its 1 MiB bodies to SSL_write in one call: all but the first 256 KiB
    // of each (client and server) are counted, and those events are marked truncated.
    const truncated = events.filter((e) => e.truncated);
    assert.ok(truncated.length >= 2);
    assert.ok(truncated.every((e) => e.data.length === MAX_CALL_BYTES));
    assert.ok(s.lost.truncatedBytes >= 2 * (MiB - MAX_CALL_BYTES));
  });

  it('tls.targets: a file with nothing to hook is ERR_INVALID_OPTION with required, a reason with auto', async function () {
    const notElf = path.join(cert.dir, 'not-a-library.so');
    fs.writeFileSync(notElf, 'not an ELF file');
    for (const target of ['/nonexistent/libssl.so.3', '/usr/bin/true', notElf]) {
      const before = progIds();
      await assert.rejects(
        openCapturer({ interfaces: ['lo'], filter: 'tcp port 1', tls: { mode: 'required', targets: [target] } }),
        (err) => err.code === 'ERR_INVALID_OPTION' && err.message.includes(target),
      );
      await until('nothing of that capture left', () => [...progIds()].every((id) => before.has(id)));
      const auto = await openCapturer({ interfaces: ['lo'], filter: 'tcp port 1', tls: { targets: [target] } });
      try {
        assert.equal(auto.selection.tls.active, true, 'the libraries found are hooked');
        assert.ok(auto.selection.tls.reason.includes(`not hooked: ${target}`), auto.selection.tls.reason);
        assert.ok(auto.tls.skipped.some((s) => s.path === target && s.named));
        assert.ok(!auto.tls.targets.some((t) => t.path === target));
      } finally {
        await auto.close();
      }
    }
  });
});
