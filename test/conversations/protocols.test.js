'use strict';
// HTTP/1.1, HTTP/2 and DNS from real traffic: a Node and a Go client (and curl, and a
// pipelining raw socket) against real servers (test/conversations/fixtures/peers.js)
// on loopback. Against tshark on tcpdump's file of it, request by request and answer
// by answer; and live, `tapwire http|dns|flows -- CMD` listing exactly what the
// command asked, with its process.
const assert = require('node:assert');
const { execFileSync, spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer, captureCommand } = require('../..');
const { httpExchanges, dnsMessages } = require('../../dist/conversations');
const { requirePrivileges } = require('../helpers/privileged');
const { startTcpdump, run } = require('../helpers/tools');
const { certificate, startServer, stop } = require('../helpers/tls-peers');
const { tsharkFrames } = require('./tshark');

const FIXTURES = path.join(__dirname, 'fixtures');
const CLI = path.join(__dirname, '..', '..', 'bin', 'tapwire.js');

async function all(iterable) {
  const list = [];
  for await (const x of iterable) list.push(x);
  return list;
}

/** tshark's values of `fields` for each frame, every occurrence as a list. */
function tsharkValues(file, decodeAs, fields) {
  return tsharkFrames(
    file,
    fields,
    decodeAs.flatMap((d) => ['-d', d]),
    ';',
  ).map((row) => Object.fromEntries(fields.map((f) => [f, row[f] === '' ? [] : row[f].split(';')])));
}

/** Runs the CLI; resolves with its JSON lines, its stderr and the command's own report (a JSON line on stderr). */
async function cli(args) {
  const r = await run(process.execPath, [CLI, ...args]);
  const report = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))[0];
  assert.strictEqual(r.code, 0, `tapwire ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  return {
    lines: r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l)),
    stderr: r.stderr,
    report,
  };
}

describe('HTTP and DNS', function () {
  this.timeout(180000);
  let cert;
  let peers;
  let ports;
  let goClient;
  let file;
  let dir;

  before(async function () {
    await requirePrivileges(this, ['tcpdump', 'tshark', 'curl', 'python3', 'go']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-protocols-'));
    cert = certificate();
    const dnsHost = `127.53.${crypto.randomInt(256)}.${1 + crypto.randomInt(254)}`;
    peers = await startServer(process.execPath, [path.join(FIXTURES, 'peers.js'), cert.key, cert.cert, dnsHost], /^\{.*\}\n/);
    ports = JSON.parse(peers.readyOutput);
    // Go's client, built from source with Debian's Go (no module: the standard library only).
    goClient = path.join(dir, 'client-go');
    execFileSync('go', ['build', '-o', goClient, path.join(FIXTURES, 'client.go')], {
      env: { ...process.env, GO111MODULE: 'off', GOCACHE: path.join(dir, 'gocache'), GOPATH: path.join(dir, 'gopath') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });

    // The recording: every client once, on loopback, as tcpdump sees it.
    const dump = await startTcpdump('lo', `port ${ports.http} or port ${ports.h2c} or port ${ports.https} or host ${ports.dnsHost}`, {
      keep: true,
    });
    const json = JSON.stringify(ports);
    try {
      assert.strictEqual((await run(process.execPath, [path.join(FIXTURES, 'client.js'), json])).code, 0);
      assert.strictEqual((await run(goClient, [json])).code, 0);
      const base = `http://127.0.0.1:${ports.http}`;
      // Keep-alive (two requests, one connection), a chunked upload, an upgrade.
      await run('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', `${base}/one`, `${base}/two`]);
      await run('curl', [
        '-s',
        '-o',
        '/dev/null',
        '-H',
        'Transfer-Encoding: chunked',
        '--data-binary',
        'chunked body',
        `${base}/chunked-upload`,
      ]);
      await run('curl', [
        '-s',
        '-o',
        '/dev/null',
        '--max-time',
        '3',
        '-H',
        'Connection: Upgrade',
        '-H',
        'Upgrade: websocket',
        `${base}/ws`,
      ]);
      // Pipelining: two requests in one write, both answered in order.
      const pipeline = `import socket; s=socket.create_connection(('127.0.0.1', ${ports.http})); s.sendall(b'GET /p1 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /p2 HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'); import time; d=b''\nwhile True:\n  c=s.recv(65536)\n  if not c: break\n  d+=c\nprint(d.count(b'HTTP/1.1 200'))`;
      const piped = await run('python3', ['-c', pipeline]);
      assert.strictEqual(piped.stdout.trim(), '2');
    } finally {
      file = (await dump.stop()).file;
    }
  });

  after(async function () {
    await stop(peers);
    if (cert) fs.rmSync(cert.dir, { recursive: true, force: true });
    if (file) fs.rmSync(path.dirname(file), { recursive: true, force: true });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('HTTP/1.1 and h2c exchanges agree with tshark, request by request and status by status', async function () {
    const exchanges = await all(httpExchanges(await openCapturer({ file })));
    const rows = tsharkValues(
      file,
      [`tcp.port==${ports.http},http`, `tcp.port==${ports.h2c},http2`],
      [
        'http.request.method',
        'http.request.uri',
        'http.host',
        'http.response.code',
        'http2.headers.method',
        'http2.headers.path',
        'http2.headers.authority',
        'http2.headers.status',
      ],
    );
    const theirRequests = [];
    const theirStatuses = [];
    for (const r of rows) {
      r['http.request.method'].forEach((m, i) => theirRequests.push(`${m} ${r['http.host'][i] ?? ''} ${r['http.request.uri'][i]}`));
      r['http2.headers.method'].forEach((m, i) =>
        theirRequests.push(`${m} ${r['http2.headers.authority'][i] ?? ''} ${r['http2.headers.path'][i]}`),
      );
      theirStatuses.push(...r['http.response.code'].map(Number), ...r['http2.headers.status'].map(Number));
    }
    // The HTTPS port's TCP streams are ciphertext: passed over.
    const plain = exchanges.filter((e) => e.server.port !== ports.https);
    const ours = plain.map((e) => `${e.method} ${e.host ?? ''} ${e.path}`);
    assert.deepStrictEqual(ours.sort(), theirRequests.sort());
    const statuses = plain.flatMap((e) => [...(e.informational ?? []), e.status]);
    assert.deepStrictEqual(statuses.sort(), theirStatuses.sort());
    // What tshark does not say: each feature read as it happened.
    const by = (p) => plain.find((e) => e.path === p);
    assert.deepStrictEqual(by('/upload').informational, [100]);
    assert.strictEqual(by('/upload').request.bodyBytes, 3000);
    assert.strictEqual(by('/chunked').response.bodyBytes, 'first second'.length);
    assert.strictEqual(by('/head').response.bodyBytes, 0);
    assert.strictEqual(by('/chunked-upload').request.bodyBytes, 'chunked body'.length);
    assert.strictEqual(by('/ws').upgrade, 'websocket');
    assert.deepStrictEqual(by('/greet.Greeter/Hello').grpc, {
      service: 'greet.Greeter',
      method: 'Hello',
      status: 5,
      message: 'no such greeting',
    });
    assert.ok(by('/p1').stream === by('/p2').stream && plain.indexOf(by('/p1')) < plain.indexOf(by('/p2')));
    assert.ok(
      plain.every((e) => !e.incomplete && e.latency >= 0),
      JSON.stringify(plain.filter((e) => e.incomplete).map((e) => [e.path, e.incomplete])),
    );
  });

  it('DNS queries and answers agree with tshark, over UDP and TCP', async function () {
    const messages = await all(dnsMessages(await openCapturer({ file })));
    const rows = tsharkValues(
      file,
      [],
      [
        'dns.flags.response',
        'dns.id',
        'dns.qry.name',
        'dns.qry.type',
        'dns.flags.rcode',
        'dns.a',
        'dns.aaaa',
        'dns.flags.truncated',
        'tcp.srcport',
      ],
    ).filter((r) => r['dns.id'].length > 0);
    const TYPES = { 1: 'A', 28: 'AAAA' };
    const RCODES = { 0: 'NOERROR', 3: 'NXDOMAIN' };
    const theirs = rows
      .filter((r) => r['dns.flags.response'][0] === '1')
      .map((r) =>
        [
          r['tcp.srcport'].length > 0 ? 'tcp' : 'udp',
          Number(r['dns.id'][0]),
          r['dns.qry.name'][0],
          TYPES[r['dns.qry.type'][0]],
          RCODES[r['dns.flags.rcode'][0]],
          [...r['dns.a'], ...r['dns.aaaa']].join(','),
          r['dns.flags.truncated'][0] === '1',
        ].join(' '),
      );
    const ours = messages.map((m) =>
      [m.transport, m.id, m.question.name, m.question.type, m.rcode, m.answers.map((a) => a.data).join(','), m.truncated].join(' '),
    );
    assert.deepStrictEqual(ours.sort(), theirs.sort());
    assert.ok(messages.every((m) => !m.unanswered && !m.unsolicited && m.latency >= 0));
    assert.ok(messages.some((m) => m.transport === 'tcp') && messages.some((m) => m.truncated));
  });

  it("the docs' example: captureCommand() and httpExchanges() list exactly a command's HTTP calls", async function () {
    const child = await captureCommand(process.execPath, [path.join(FIXTURES, 'client.js'), JSON.stringify(ports)], {
      spawn: { stdio: ['ignore', 'ignore', 'pipe'] },
    });
    let stderr = '';
    child.child.stderr.on('data', (d) => (stderr += d));
    const calls = [];
    for await (const ex of httpExchanges(child)) calls.push(`${ex.method} ${ex.url} ${ex.status}`);
    assert.strictEqual((await child.exited).code, 0);
    const report = JSON.parse(stderr.split('\n').find((l) => l.startsWith('{')));
    const plaintext = report.requests.filter(([, url]) => url.startsWith('http:')).map(([m, url]) => `${m} ${url} 200`);
    assert.deepStrictEqual(calls.sort(), plaintext.sort());
  });

  it('tapwire http -- node CLIENT lists exactly its plaintext requests (HTTP/1.1, h2c) with its process', async function () {
    const { lines, report } = await cli([
      'http',
      '--json',
      '--',
      process.execPath,
      path.join(FIXTURES, 'client.js'),
      JSON.stringify(ports),
    ]);
    const plaintext = report.requests.filter(([, url]) => url.startsWith('http:'));
    assert.deepStrictEqual(lines.map((l) => [l.method, l.url]).sort(), plaintext.sort());
    assert.ok(lines.every((l) => l.client.pid === report.pid && l.client.comm === 'node' && l.status === 200 && !l.incomplete));
  });

  it('tapwire http --tls -i lo lists the client’s HTTPS requests (h2 and HTTP/1.1) from TLS plaintext, with its process', async function () {
    const tapwire = spawn(process.execPath, [CLI, 'http', '--tls=required', '--json', '-i', 'lo', `tcp port ${ports.https}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    tapwire.stdout.on('data', (d) => (out += d));
    const listening = new Promise((resolve) => tapwire.stderr.on('data', (d) => (err += d) && /listening on/.test(err) && resolve()));
    const exited = new Promise((resolve) => tapwire.on('exit', resolve));
    try {
      await Promise.race([listening, exited]);
      assert.match(err, /TLS capture is on/);
      const client = await run(process.execPath, [path.join(FIXTURES, 'client.js'), JSON.stringify(ports)]);
      const report = JSON.parse(client.stderr.split('\n').find((l) => l.startsWith('{')));
      await new Promise((resolve) => setTimeout(resolve, 500));
      tapwire.kill('SIGINT');
      assert.strictEqual(await exited, 0, err);
      const lines = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const mine = lines.filter((l) => l.client.pid === report.pid);
      const https = report.requests.filter(([, url]) => url.startsWith('https:'));
      assert.deepStrictEqual(mine.map((l) => [l.method, l.url]).sort(), https.sort());
      assert.deepStrictEqual(mine.map((l) => l.protocol).sort(), ['HTTP/1.1', 'h2']);
      assert.ok(mine.every((l) => l.client.comm === 'node' && l.scheme === 'https' && l.status === 200 && !l.incomplete));
      // The server's own TLS calls show the same exchanges from its side: never put on the client.
      const servers = lines.filter((l) => l.server.pid === peers.pid);
      assert.ok(
        servers.length > 0 && servers.every((l) => l.client.pid === null),
        JSON.stringify(lines.map((l) => [l.url, l.client, l.server])),
      );
    } finally {
      tapwire.kill('SIGKILL');
    }
  });

  it('tapwire http -- GO-CLIENT lists its HTTP/1.1 request with its process; tapwire flows names its TLS hello', async function () {
    const { lines, report } = await cli(['http', '--json', '--', goClient, JSON.stringify(ports)]);
    assert.deepStrictEqual(
      lines.map((l) => [l.method, l.url, l.client.pid, l.status]),
      [['GET', report.requests[0][1], report.pid, 200]],
    );
    const flows = (await cli(['flows', '--json', '--', goClient, JSON.stringify(ports)])).lines;
    const hello = flows.find((f) => f.server.port === ports.https)?.tls;
    assert.ok(hello, 'no ClientHello from the Go client');
    assert.deepStrictEqual([hello.sni, hello.alpn], [null, ['h2', 'http/1.1']]);
    assert.match(hello.ja4, /^t13i\d{4}h2_[0-9a-f]{12}_[0-9a-f]{12}$/);
  });

  for (const client of ['node', 'go']) {
    it(`tapwire dns -- ${client} client lists exactly its lookups, answered, over UDP and TCP, with its process`, async function () {
      const command = client === 'node' ? [process.execPath, path.join(FIXTURES, 'client.js')] : [goClient];
      const { lines, report } = await cli(['dns', '--json', '--', ...command, JSON.stringify(ports)]);
      assert.ok(lines.length > 0 && lines.every((l) => l.client.pid === report.pid && !l.unanswered), JSON.stringify(lines));
      const asked = [...new Set(lines.map((l) => `${l.question.type} ${l.question.name}`))].sort();
      assert.deepStrictEqual(asked, report.lookups.map(([type, name]) => `${type} ${name}`).sort());
      for (const l of lines) {
        const missing = l.question.name === 'missing.test';
        assert.strictEqual(l.rcode, missing ? 'NXDOMAIN' : 'NOERROR', JSON.stringify(l));
        if (!missing && !l.truncated)
          assert.deepStrictEqual([...new Set(l.answers.map((a) => a.data))], [l.question.type === 'A' ? '127.0.0.53' : '::1']);
      }
      assert.ok(
        lines.some((l) => l.transport === 'tcp'),
        'no lookup over TCP',
      );
    });
  }
});
