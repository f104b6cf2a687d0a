'use strict';
// TLS secrets: read from Go programs' writeKeyLog by uprobe and from the key log of a
// command tapwire runs (SSLKEYLOGFILE, node's --tls-keylog), into the pcapng file as
// Decryption Secrets Blocks and into an NSS key log file. Checked by tshark decrypting
// the captured packets themselves (the requests' paths from the encrypted records),
// never by tapwire's own parser.
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { openCapturer } = require('..');
const { requirePrivileges } = require('./helpers/privileged');
const { certificate, startServer, startSServer, stop, runClient, goPeers, GO_BUILDS } = require('./helpers/tls-peers');
const { until } = require('./helpers/poll');
const { createLink, removeLink } = require('./helpers/netns');

const BIN = path.join(__dirname, '..', 'bin', 'tapwire.js');

/** Captures a test started and has not stopped: a failed test's is killed after it. */
const running = new Set();

/** Starts `tapwire capture ARGS`; resolves once it says where the secrets go. */
async function startCapture(args) {
  const child = spawn(process.execPath, [BIN, 'capture', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('close', () => running.delete(child));
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr, stdout })));
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/TLS secrets go|no TLS secrets/.test(stderr)) resolve();
    });
    exited.then(({ code }) => reject(new Error(`tapwire exited ${code}: ${stderr}`)));
  });
  return { child, exited, stderr: () => stderr };
}

/** Ends a capture as ^C would; resolves with its exit. */
async function stopCapture(run) {
  run.child.kill('SIGINT');
  const r = await run.exited;
  assert.equal(r.code, 0, r.stderr);
  return r;
}

/** tshark's fields of the packets `filter` shows in `file`, TLS decoded on `ports`, with `options`. */
function tshark(file, ports, filter, fields, options = []) {
  const decode = ports.flatMap((p) => ['-d', `tcp.port==${p},tls`]);
  const args = ['-r', file, ...decode, ...options, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])];
  return execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .split('\n')
    .filter(Boolean);
}

describe('TLS secrets: Wireshark decrypts what tapwire captured', function () {
  let cert;
  let dir;
  let go;
  let goStatic; // a build no process runs when a capture opens
  let s13; // openssl s_server, TLS 1.3
  let s12; // openssl s_server, TLS 1.2 only
  let h2; // a Go server speaking HTTP/2
  const ports = {};

  before(async function () {
    this.timeout(600000);
    await requirePrivileges(this, ['openssl', 'curl', 'python3', 'tshark', 'go', 'gnutls-serv']);
    const peers = goPeers('go', { default: GO_BUILDS.default, static: GO_BUILDS.static });
    go = peers.default;
    goStatic = peers.static;
    cert = certificate();
    dir = fs.mkdtempSync(path.join(cert.dir, 'keys-'));
    ports.s13 = 20000 + ((process.pid + 101) % 20000);
    ports.s12 = 20000 + ((process.pid + 202) % 20000);
    s13 = await startSServer(cert, ports.s13);
    s12 = await startServer(
      'openssl',
      ['s_server', '-accept', `127.0.0.1:${ports.s12}`, '-cert', cert.cert, '-key', cert.key, '-www', '-tls1_2'],
      /ACCEPT/,
    );
    h2 = await startServer(go, ['server', cert.cert, cert.key, '64', 'h2'], /listening \d+/);
    ports.h2 = Number(/listening (\d+)/.exec(h2.readyOutput)[1]);
  });

  afterEach(async function () {
    // Gone before the next test (or file) counts what the kernel holds.
    await Promise.all([...running].map((child) => new Promise((resolve) => child.once('close', resolve).kill('SIGKILL'))));
  });

  after(async function () {
    for (const server of [s13, s12, h2]) await stop(server);
    if (cert) fs.rmSync(cert.dir, { recursive: true, force: true });
  });

  it("openCapturer({ tls: { keys: true } }): a Go client's secrets, each naming the ClientHello the packets carry", async function () {
    const cap = await openCapturer({ interfaces: ['lo'], filter: `tcp port ${ports.s13}`, tls: { mode: 'required', keys: true } });
    const { secrets, payloads, reading } = collect(cap);
    const { pid } = await runClient(go, ['client', `https://127.0.0.1:${ports.s13}/hello-go-lib`]);
    await until('the handshake secrets', () => secrets.filter((s) => s.pid === pid).length >= 4);
    await cap.close();
    await reading;
    const mine = secrets.filter((s) => s.pid === pid);
    // TLS 1.3: the handshake and first application traffic secrets of both sides (a
    // newer Go adds the exporter's).
    assert.deepEqual([...new Set(mine.map((s) => s.label))].filter((l) => l !== 'EXPORTER_SECRET').sort(), [
      'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
      'CLIENT_TRAFFIC_SECRET_0',
      'SERVER_HANDSHAKE_TRAFFIC_SECRET',
      'SERVER_TRAFFIC_SECRET_0',
    ]);
    for (const s of mine) {
      assert.equal(s.source, 'uprobe');
      assert.equal(s.library, fs.realpathSync(go));
      assert.equal(s.clientRandom.length, 32);
      assert.equal(s.secret.length, 32); // TLS_AES_128_GCM_SHA256, Go's first choice: SHA-256
    }
    assert.equal(new Set(mine.map((s) => s.clientRandom.toString('hex'))).size, 1, 'one connection, one client random');
    // The client random is the one in the ClientHello the capture holds.
    assert.ok(
      payloads.some((p) => p.includes(mine[0].clientRandom)),
      'the ClientHello with that random is among the packets',
    );
    assert.equal(cap.tls.stats().secrets, secrets.length);
    assert.equal(cap.tls.stats().lost.secrets, 0);
  });

  it('OpenSSL processes tapwire did not start (python and node running before the capture, curl after; TLS 1.3 and 1.2): their secrets from libssl and the node binary, each naming its ClientHello', async function () {
    const py = await startFetcher('python');
    const nodeClient = await startFetcher('node');
    try {
      const filter = `tcp port ${ports.s13} or tcp port ${ports.s12}`;
      const cap = await openCapturer({ interfaces: ['lo'], filter, tls: { mode: 'required', keys: true } });
      const libssl = cap.tls.targets.find((t) => t.functions.includes('nss_keylog_int'));
      assert.ok(libssl, `the key log function found in libssl: ${JSON.stringify(cap.tls.targets)}`);
      // Node's binary inlines it into ssl_log_secret, whose symbol it keeps.
      const nodeBinary = cap.tls.targets.find((t) => t.path === fs.realpathSync(process.execPath));
      assert.ok(nodeBinary?.functions.includes('ssl_log_secret'), JSON.stringify(cap.tls.targets));
      const { secrets, payloads, reading } = collect(cap);
      await py.get(`https://127.0.0.1:${ports.s13}/hello-py`);
      await nodeClient.get(`https://127.0.0.1:${ports.s13}/hello-node`);
      const curl13 = await runClient('curl', ['-sk', '--tlsv1.3', `https://127.0.0.1:${ports.s13}/hello-curl-13`]);
      const curl12 = await runClient('curl', ['-sk', `https://127.0.0.1:${ports.s12}/hello-curl-12`]);
      const of = (pid) => secrets.filter((s) => s.pid === pid);
      await until(
        "every handshake's secrets",
        () => of(py.pid).length >= 4 && of(nodeClient.pid).length >= 4 && of(curl13.pid).length >= 4 && of(curl12.pid).length >= 1,
      );
      await cap.close();
      await reading;
      const tls13 = [
        'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
        'CLIENT_TRAFFIC_SECRET_0',
        'SERVER_HANDSHAKE_TRAFFIC_SECRET',
        'SERVER_TRAFFIC_SECRET_0',
      ];
      for (const [pid, labels, library] of [
        [py.pid, tls13, libssl],
        [nodeClient.pid, tls13, nodeBinary],
        [curl13.pid, tls13, libssl],
        [curl12.pid, ['CLIENT_RANDOM'], libssl],
      ]) {
        const mine = of(pid);
        assert.deepEqual([...new Set(mine.map((s) => s.label))].filter((l) => l !== 'EXPORTER_SECRET').sort(), labels);
        assert.equal(new Set(mine.map((s) => s.clientRandom.toString('hex'))).size, 1, 'one connection, one client random');
        for (const s of mine) {
          assert.equal(s.source, 'uprobe');
          assert.equal(s.library, library.path);
          assert.equal(s.secret.length, 48); // s_server picks TLS_AES_256_GCM_SHA384, or a 1.2 master secret
        }
        assert.ok(
          payloads.some((p) => p.includes(mine[0].clientRandom)),
          `pid ${pid}: the ClientHello with that random is among the packets`,
        );
      }
      assert.equal(cap.tls.stats().lost.secrets, 0);
    } finally {
      py.stop();
      nodeClient.stop();
    }
  });

  it('--embed-keys -w: tshark decrypts, from the file alone, python and node processes that ran before the capture and curl (TLS 1.3 and 1.2), against a GnuTLS server', async function () {
    // gnutls-serv gives no secrets: every key comes from the clients' own libraries.
    const port = 20000 + ((process.pid + 303) % 20000);
    const gnutls = await startServer(
      'gnutls-serv',
      ['--http', '--x509certfile', cert.cert, '--x509keyfile', cert.key, '-p', String(port)],
      /listening on IPv4/,
    );
    const py = await startFetcher('python');
    const nodeClient = await startFetcher('node');
    try {
      const file = path.join(dir, 'openssl.pcapng');
      const run = await startCapture(['-i', 'lo', '--embed-keys', '-w', file, `tcp port ${port}`]);
      const url = `https://127.0.0.1:${port}`;
      await py.get(`${url}/hello-py-file`);
      await nodeClient.get(`${url}/hello-node-file`);
      await runClient('curl', ['-sk', '--tlsv1.3', `${url}/hello-curl-file-13`]);
      await runClient('curl', ['-sk', '--tls-max', '1.2', `${url}/hello-curl-file-12`]);
      await stopCapture(run);
      const uris = tshark(file, [port], 'tls and http.request', ['http.request.uri']);
      assert.deepEqual(uris.sort(), ['/hello-curl-file-12', '/hello-curl-file-13', '/hello-node-file', '/hello-py-file']);
    } finally {
      py.stop();
      nodeClient.stop();
      await stop(gnutls);
    }
  });

  it('--embed-keys -w: each secret once, though the client and the server on this host both log it', async function () {
    const file = path.join(dir, 'twice.pcapng');
    const run = await startCapture(['-i', 'lo', '--embed-keys', '-w', file, `tcp port ${ports.s13}`]);
    await runClient('curl', ['-sk', `https://127.0.0.1:${ports.s13}/hello-twice`]);
    await stopCapture(run);
    assert.deepEqual(tshark(file, [ports.s13], 'tls and http.request', ['http.request.uri']), ['/hello-twice']);
    const lines = blocks(file)
      .filter((b) => b.type === 0x0a)
      .flatMap(secretLines);
    assert.ok(lines.length >= 4, lines.join('\n'));
    assert.equal(new Set(lines).size, lines.length, lines.join('\n'));
  });

  it('--embed-keys -w: tshark decrypts a Go client over TLS 1.3 and 1.2 and HTTP/2, from the file alone; -r --keylog reads them back', async function () {
    const file = path.join(dir, 'go.pcapng');
    const filter = `tcp port ${ports.s13} or tcp port ${ports.s12} or tcp port ${ports.h2}`;
    const run = await startCapture(['-i', 'lo', '--embed-keys', '-w', file, filter]);
    assert.match(run.stderr(), /TLS secrets go into .*go\.pcapng: they decrypt this capture/);
    await runClient(go, ['client', `https://127.0.0.1:${ports.s13}/hello-go-13`]);
    await runClient(go, ['client', `https://127.0.0.1:${ports.s12}/hello-go-12`]);
    // curl over HTTP/2 to the Go server: the server's own writeKeyLog gives the keys.
    await runClient('curl', ['-sk', '--http2', `https://127.0.0.1:${ports.h2}/hello-go-h2`]);
    await stopCapture(run);
    const uris = tshark(file, [ports.s13, ports.s12], 'tls and http.request', ['http.request.uri']);
    assert.ok(uris.includes('/hello-go-13'), uris.join('\n'));
    assert.ok(uris.includes('/hello-go-12'), uris.join('\n'));
    const h2paths = tshark(file, [ports.h2], 'http2.headers.path', ['http2.headers.path']);
    assert.ok(h2paths.includes('/hello-go-h2'), h2paths.join('\n'));
    // Without the secrets block, nothing is decrypted: the keys come from the file.
    const stripped = path.join(dir, 'go-nokeys.pcapng');
    fs.writeFileSync(
      stripped,
      Buffer.concat(
        blocks(file)
          .filter((b) => b.type !== 0x0a)
          .map((b) => b.raw),
      ),
    );
    assert.deepEqual(tshark(stripped, [ports.s13, ports.s12], 'tls and http.request', ['http.request.uri']), []);
    // Replay reads the secrets back: -r with --keylog writes them out, and that key log
    // decrypts the stripped copy.
    const keylog = path.join(dir, 'from-file.log');
    const r = spawnSync([BIN, 'capture', '-r', file, '--keylog', keylog, '-w', '/dev/null']);
    assert.equal(r.status, 0, r.stderr);
    const embedded = blocks(file)
      .filter((b) => b.type === 0x0a)
      .flatMap(secretLines);
    assert.ok(embedded.length >= 9, 'TLS 1.3: four secrets a side; 1.2: one');
    assert.deepEqual(fs.readFileSync(keylog, 'utf8').trim().split('\n'), embedded);
    const again = tshark(
      stripped,
      [ports.s13, ports.s12],
      'tls and http.request',
      ['http.request.uri'],
      ['-o', `tls.keylog_file:${keylog}`],
    );
    assert.deepEqual(again.sort(), ['/hello-go-12', '/hello-go-13']);
  });

  it('-- CMD: curl, python and node write their secrets to the key log tapwire gives them, a Go command is hooked before it starts; tshark decrypts each', async function () {
    const clients = [
      ['curl', ['-sk', '--http1.1', `https://127.0.0.1:${ports.s13}/hello-curl`], '/hello-curl'],
      [
        'python3',
        [
          '-c',
          `import ssl, urllib.request; urllib.request.urlopen('https://127.0.0.1:${ports.s12}/hello-python', context=ssl._create_unverified_context()).read()`,
        ],
        '/hello-python',
      ],
      [
        process.execPath,
        ['-e', `require('https').get('https://127.0.0.1:${ports.s13}/hello-node', { rejectUnauthorized: false }, (r) => r.resume())`],
        '/hello-node',
      ],
      // Go ignores SSLKEYLOGFILE: its writeKeyLog is hooked before the command starts.
      [goStatic, ['client', `https://127.0.0.1:${ports.s13}/hello-go-cmd`], '/hello-go-cmd'],
    ];
    for (const [cmd, args, uri] of clients) {
      const file = path.join(dir, `${path.basename(cmd)}.pcapng`);
      const r = await new Promise((resolve) => {
        const child = spawn(process.execPath, [BIN, 'capture', '--embed-keys', '-w', file, '--', cmd, ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stderr }));
      });
      assert.equal(r.code, 0, r.stderr);
      const uris = tshark(file, [ports.s13, ports.s12], 'tls and http.request', ['http.request.uri']);
      assert.deepEqual(uris, [uri], `${cmd}: ${r.stderr}`);
    }
  });

  it('ip netns exec NS tapwire capture --embed-keys -w f -- curl: the secrets of a command run in another network namespace, against a server there; tshark decrypts', async function () {
    const link = createLink();
    const server = await startServer(
      'ip',
      ['netns', 'exec', link.ns, 'openssl', 's_server', '-accept', `127.0.0.1:${ports.s13}`, '-cert', cert.cert, '-key', cert.key, '-www'],
      /ACCEPT/,
    );
    try {
      const file = path.join(dir, 'netns.pcapng');
      const r = await new Promise((resolve) => {
        const args = ['netns', 'exec', link.ns, process.execPath, BIN, 'capture', '--embed-keys', '-w', file];
        const child = spawn('ip', [...args, '--', 'curl', '-sk', '--http1.1', `https://127.0.0.1:${ports.s13}/hello-netns`], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stderr }));
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(tshark(file, [ports.s13], 'tls and http.request', ['http.request.uri']), ['/hello-netns'], r.stderr);
    } finally {
      await stop(server);
      removeLink(link);
    }
  });

  it('--keylog FILE: an NSS key log, mode 0600, that tshark -o tls.keylog_file reads', async function () {
    const file = path.join(dir, 'plain.pcapng');
    const keylog = path.join(dir, 'keys.log');
    const run = await startCapture(['-i', 'lo', '--keylog', keylog, '-w', file, `tcp port ${ports.s13}`]);
    await runClient(go, ['client', `https://127.0.0.1:${ports.s13}/hello-keylog`]);
    await until('the secrets in the key log', () => fs.readFileSync(keylog, 'utf8').split('\n').filter(Boolean).length >= 4);
    await stopCapture(run);
    assert.equal(fs.statSync(keylog).mode & 0o777, 0o600);
    const lines = fs.readFileSync(keylog, 'utf8').trim().split('\n');
    for (const line of lines) assert.match(line, /^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64,}$/);
    // The file has no secrets block: with the key log, tshark decrypts it; without, not.
    assert.deepEqual(tshark(file, [ports.s13], 'tls and http.request', ['http.request.uri']), []);
    assert.deepEqual(tshark(file, [ports.s13], 'tls and http.request', ['http.request.uri'], ['-o', `tls.keylog_file:${keylog}`]), [
      '/hello-keylog',
    ]);
  });

  it('with -G, each file holds the secrets of every connection before it and its own', async function () {
    const pattern = path.join(dir, 'rot-%s.pcapng');
    const PERIOD = 2;
    const run = await startCapture(['-i', 'lo', '--embed-keys', '-G', String(PERIOD), '-w', pattern, `tcp port ${ports.s13}`]);
    // A connection cut across two files decrypts in neither (its handshake is in one, its
    // data in the other; tcpdump -G cuts the same way): each client starts as a file
    // begins, and the next in a later one.
    const atPeriodStart = async () => {
      const into = Date.now() % (PERIOD * 1000);
      await new Promise((resolve) => setTimeout(resolve, PERIOD * 1000 - into + 20));
    };
    await atPeriodStart();
    await runClient(go, ['client', `https://127.0.0.1:${ports.s13}/hello-first`]);
    await atPeriodStart();
    await runClient(go, ['client', `https://127.0.0.1:${ports.s13}/hello-second`]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await stopCapture(run);
    const files = fs
      .readdirSync(dir)
      .filter((f) => /^rot-\d+\.pcapng$/.test(f))
      .map((f) => path.join(dir, f));
    const found = files.map((f) => tshark(f, [ports.s13], 'tls and http.request', ['http.request.uri']));
    assert.ok(
      found.some((u) => u.includes('/hello-first')),
      JSON.stringify(found),
    );
    assert.ok(
      found.some((u) => u.includes('/hello-second')),
      JSON.stringify(found),
    );
    // The file with the second request starts, before its first packet, with the
    // secrets of the first connection too.
    const first = files[found.findIndex((u) => u.includes('/hello-first'))];
    const second = files[found.findIndex((u) => u.includes('/hello-second'))];
    assert.notEqual(first, second, 'the two requests in two files');
    const head = blocks(second);
    const firstPacket = head.findIndex((b) => b.type === 6);
    const early = head.slice(0, firstPacket < 0 ? head.length : firstPacket).filter((b) => b.type === 0x0a);
    assert.ok(early.length > 0, 'a secrets block before the first packet');
    const firstRandoms = blocks(first)
      .filter((b) => b.type === 0x0a)
      .flatMap((b) => secretLines(b).map((l) => l.split(' ')[1]));
    assert.ok(firstRandoms.length > 0);
    for (const r of firstRandoms)
      assert.ok(
        secretLines(early[0]).some((l) => l.includes(r)),
        `${r} repeated`,
      );
  });

  it('a libssl whose key log function cannot be told for certain: plaintext hooked, no secrets read from it, and why', async function () {
    // The same library with its CLIENT_RANDOM label renamed: nothing leads to nss_keylog_int.
    const libssl = fs.realpathSync('/usr/lib/x86_64-linux-gnu/libssl.so.3');
    const copy = path.join(dir, 'libssl.so.3');
    const bytes = fs.readFileSync(libssl);
    const at = bytes.indexOf('CLIENT_RANDOM\0');
    assert.ok(at > 0);
    bytes.write('CLIENT_RANDOX', at, 'latin1');
    fs.writeFileSync(copy, bytes);
    const cap = await openCapturer({ interfaces: ['lo'], filter: 'tcp port 1', tls: { mode: 'required', keys: true, targets: [copy] } });
    try {
      const target = cap.tls.targets.find((t) => t.path === copy);
      assert.ok(target, JSON.stringify(cap.tls.targets));
      assert.ok(target.functions.includes('ssl_read_internal'), target.functions.join());
      assert.ok(!target.functions.includes('nss_keylog_int'), target.functions.join());
      assert.match(target.noKeys, /could not be told for certain in this build: no secrets are read rather than wrong ones/);
      const system = cap.tls.targets.find((t) => t.path === libssl);
      assert.equal(system?.noKeys, undefined, 'the system libssl gives its secrets');
    } finally {
      await cap.close();
    }
  });

  it('bad input: an unwritable key log is a coded error before capture; --embed-keys needs -w', function () {
    let r = spawnSync([BIN, 'capture', '-i', 'lo', '--keylog', '/nonexistent/dir/keys.log', 'udp']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /cannot open the key log \/nonexistent\/dir\/keys\.log: no such file or directory \(ENOENT\)/);
    assert.doesNotMatch(r.stderr, /listening/);
    r = spawnSync([BIN, 'capture', '-i', 'lo', '--embed-keys', 'udp']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--embed-keys writes the keys into the pcapng file of -w/);
  });
});

/** Reads `cap`'s secrets and packet payloads until it closes (`reading` then resolves). */
function collect(cap) {
  const secrets = [];
  const payloads = [];
  const reading = Promise.all([
    (async () => {
      for await (const s of cap.tls.secrets) secrets.push(s);
    })(),
    (async () => {
      for await (const batch of cap) for (const p of batch) payloads.push(Buffer.from(p.data));
    })(),
  ]);
  return { secrets, payloads, reading };
}

/** A pcapng file's blocks (little-endian, as tapwire writes them): type and body. */
function blocks(file) {
  const buf = fs.readFileSync(file);
  const out = [];
  for (let at = 0; at + 12 <= buf.length;) {
    const length = buf.readUInt32LE(at + 4);
    out.push({ type: buf.readUInt32LE(at), body: buf.subarray(at + 8, at + length - 4), raw: buf.subarray(at, at + length) });
    at += length;
  }
  return out;
}

/** The key log lines of a Decryption Secrets Block (secrets type TLSK). */
function secretLines(block) {
  assert.equal(block.body.readUInt32LE(0), 0x544c534b);
  return block.body
    .toString('latin1', 8, 8 + block.body.readUInt32LE(4))
    .trim()
    .split('\n');
}

/** Fetchers that read URLs from stdin, print "ready" once loaded, and "done" after each response. */
const FETCHERS = {
  python: [
    'python3',
    '-c',
    [
      'import ssl, sys, urllib.request',
      'ctx = ssl._create_unverified_context()',
      "print('ready', flush=True)",
      'for line in sys.stdin:',
      '    urllib.request.urlopen(line.strip(), context=ctx).read()',
      "    print('done', flush=True)",
    ].join('\n'),
  ],
  node: [
    process.execPath,
    '-e',
    `const https = require('https');
    require('readline').createInterface({ input: process.stdin }).on('line', (url) =>
      https.get(url, { rejectUnauthorized: false, agent: false }, (r) => r.resume().on('end', () => console.log('done'))));
    console.log('ready');`,
  ],
};

/**
 * A fetcher process (FETCHERS), started (its TLS library loaded) before the test's
 * capture: `get(url)` resolves once the response is read.
 */
async function startFetcher(kind) {
  const [cmd, ...args] = FETCHERS[kind];
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  let waiting = null;
  child.stdout.setEncoding('utf8').on('data', (d) => {
    lines.push(...d.split('\n').filter(Boolean));
    waiting?.();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const next = () =>
    Promise.race([
      new Promise((resolve) => {
        waiting = () => lines.length > 0 && resolve(lines.shift());
        waiting();
      }),
      exited.then((code) => {
        throw new Error(`${kind} exited ${code}`);
      }),
    ]);
  assert.equal(await next(), 'ready');
  return {
    pid: child.pid,
    async get(url) {
      child.stdin.write(`${url}\n`);
      assert.equal(await next(), 'done');
    },
    stop: () => child.kill('SIGKILL'),
  };
}

function spawnSync(argv) {
  return require('node:child_process').spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 30000 });
}
