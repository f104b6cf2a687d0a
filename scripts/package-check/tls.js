'use strict';
// Run by the package check with one of the official Node binaries, from a project the
// packed tarball is installed in: captures loopback with tls: 'required' while a child
// process of this same node binary (its own https module, so the OpenSSL linked into
// that binary), or curl (the system's libssl), fetches a page from an https server in
// this process. Prints one JSON line: which files the plugin hooked, what plaintext it
// read from the child, and whether the child's TLS secrets name the ClientHello the
// packets carry (or why the file it used gives none: `noKeys`).
// Usage: node tls.js [node|curl]    (needs openssl for a throwaway certificate)
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const { once } = require('node:events');
const os = require('node:os');
const path = require('node:path');
const { openCapturer } = require('tapwire');

function certificate(dir) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'];
  execFileSync('openssl', args, { stdio: 'ignore' });
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwire-tls-'));
  const nonce = `${process.pid}-${Date.now()}`;
  const server = https.createServer(certificate(dir), (req, res) => res.end(`tapwire says ${nonce}`));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();

  const cap = await openCapturer({
    interfaces: ['lo'],
    filter: `tcp port ${port}`,
    tls: { mode: 'required', keys: true },
    signal: AbortSignal.timeout(60_000),
  });
  let packets = 0;
  const payloads = [];
  const counting = (async () => {
    for await (const batch of cap) {
      packets += batch.length;
      for (const p of batch) payloads.push(Buffer.from(p.data));
    }
  })();
  const secrets = [];
  const keying = (async () => {
    for await (const s of cap.tls.secrets) secrets.push(s);
  })();
  const events = [];
  const reading = (async () => {
    for await (const ev of cap.tls) events.push(ev);
  })();

  const fetcher = process.argv[2] ?? 'node';
  const client = `require('node:https').get({ host: '127.0.0.1', port: ${port}, path: '/tapwire-${nonce}', rejectUnauthorized: false },
    (res) => { res.setEncoding('utf8'); let body = ''; res.on('data', (d) => (body += d)); res.on('end', () => console.log(body)); });`;
  const [file, args] =
    fetcher === 'curl' ? ['curl', ['-sk', `https://127.0.0.1:${port}/tapwire-${nonce}`]] : [process.execPath, ['-e', client]];
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let answer = '';
  child.stdout.on('data', (d) => (answer += d));
  const [code] = await once(child, 'close');

  const text = (direction) =>
    events
      .filter((e) => e.pid === child.pid && e.direction === direction)
      .map((e) => Buffer.from(e.data).toString('latin1'))
      .join('');
  const wrote = () => text('write').includes(`GET /tapwire-${nonce} HTTP/1.1`);
  const read = () => text('read').includes(`tapwire says ${nonce}`);
  const keys = () => secrets.filter((s) => s.pid === child.pid);
  for (let waited = 0; !(wrote() && read() && keys().length >= 4) && waited < 10_000; waited += 100)
    await new Promise((r) => setTimeout(r, 100));

  const execPath = fs.realpathSync(process.execPath);
  const libraries = [...new Set(events.filter((e) => e.pid === child.pid).map((e) => e.library))];
  const result = {
    node: process.version,
    openssl: process.versions.openssl,
    client: { fetcher, exit: code, answered: answer.includes(`tapwire says ${nonce}`) },
    backend: cap.backend,
    attach: cap.selection.attach ?? null,
    hooked: cap.tls.targets.some((t) => t.path === execPath),
    libraries,
    noKeys: cap.tls.targets.filter((t) => libraries.includes(t.path) && t.noKeys).map((t) => t.noKeys),
    wrote: wrote(),
    read: read(),
  };
  await cap.close();
  await Promise.all([counting, reading, keying]);
  const randoms = new Set(keys().map((s) => s.clientRandom.toString('hex')));
  result.secrets = {
    count: keys().length,
    labels: [...new Set(keys().map((s) => s.label))].sort(),
    // One connection: one client random, the one its ClientHello carries.
    inHello: randoms.size === 1 && payloads.some((p) => p.includes(keys()[0].clientRandom)),
  };
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
  result.packets = packets;
  console.log(JSON.stringify(result));
}

main().catch((err) => {
  console.error(`${err.code ?? 'error'}: ${err.message}`);
  process.exit(1);
});
