'use strict';
// Real TLS peers on loopback: a self-signed certificate, `openssl s_server`, a Node
// https server in a child process, the clients (curl, openssl s_client, Python's ssl
// module, Node's https) as child processes, so each has its own pid, and a Go peer
// built from go-tls/ (Go's crypto/tls through net/http).
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { built } = require('./built');

function certificate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'],
    {
      stdio: 'ignore',
    },
  );
  return { dir, key, cert };
}

/** Starts a child and resolves once `ready` matches its stdout or stderr. */
function startServer(cmd, args, ready, options = {}) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  let seen = '';
  return new Promise((resolve, reject) => {
    const look = (d) => {
      seen += d;
      if (ready.test(seen)) {
        child.readyOutput = seen;
        resolve(child);
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${seen}`)));
  });
}

function stop(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', resolve);
    child.kill('SIGKILL');
  });
}

/** `openssl s_server -www` on 127.0.0.1:`port`: any request gets its status page. */
function startSServer(cert, port) {
  return startServer('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', cert.cert, '-key', cert.key, '-www'], /ACCEPT/);
}

/**
 * Reads open capture `cap` until it closes: its TLS events into `events`, and each
 * connection its packets show opening (a SYN) into `opened` as "client port>server
 * port", for the events' connections to be checked against. Resolves when both end.
 */
function watchCapture(cap, events, opened) {
  const { HeaderView, TCP } = require('../..');
  return Promise.all([
    (async () => {
      for await (const e of cap.tls) events.push(e);
    })(),
    (async () => {
      const h = new HeaderView();
      for await (const batch of cap) {
        for (let i = 0; i < batch.length; i++) {
          batch.headersAt(i, h);
          if (h.isTcp && h.tcpFlags & TCP.SYN && !(h.tcpFlags & TCP.ACK)) opened.add(`${h.srcPort}>${h.dstPort}`);
        }
      }
    })(),
  ]);
}

/** Runs a client to completion; resolves with { pid, stdout }. */
function runClient(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ pid: child.pid, stdout }) : reject(new Error(`${cmd} exited ${code}: ${stderr}`))));
    child.stdin.end(input ?? '');
  });
}

// A Node https server: echoes the request path, and for POST answers with as many
// bytes as it read, each byte = offset & 255 (so order can be checked).
const NODE_SERVER = `
const https = require('https'); const fs = require('fs');
const [key, cert] = process.argv.slice(1);
https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
  let n = 0;
  req.on('data', (d) => (n += d.length));
  req.on('end', () => {
    if (req.method === 'POST') { const body = Buffer.alloc(n); for (let i = 0; i < n; i++) body[i] = i & 255; res.end(body); }
    else res.end('path=' + req.url);
  });
}).listen(0, '127.0.0.1', function () { console.log('listening ' + this.address().port); });`;

// The Go peer (go-tls/main.go) in the builds users ship: the toolchain's default, stripped
// of symbols and DWARF, static without cgo, position-independent, and for arm64 (read,
// not run). Built once per source (helpers/built.js), with Go's own cache beside it.
const GO_BUILDS = {
  default: { flags: [], env: {} },
  stripped: { flags: ['-ldflags=-s -w'], env: {} },
  static: { flags: [], env: { CGO_ENABLED: '0' } },
  pie: { flags: ['-buildmode=pie'], env: {} },
  arm64: { flags: [], env: { CGO_ENABLED: '0', GOARCH: 'arm64' } },
};

/**
 * The Go toolchains installed: `go` on PATH first, then Debian's versioned ones
 * (/usr/lib/go-1.NN, from the archive or backports), each version once.
 */
function goToolchains() {
  const found = new Map();
  const candidates = [
    'go',
    ...fs
      .readdirSync('/usr/lib')
      .filter((d) => /^go-1\.\d+$/.test(d))
      .map((d) => `/usr/lib/${d}/bin/go`),
  ];
  for (const go of candidates) {
    try {
      const version = execFileSync(go, ['env', 'GOVERSION'], {
        encoding: 'utf8',
        env: { ...process.env, HOME: os.tmpdir(), GOTOOLCHAIN: 'local' },
      }).trim();
      if (!found.has(version)) found.set(version, go);
    } catch {
      // not runnable here
    }
  }
  return [...found].map(([version, go]) => ({ version, go }));
}

/** The peer's builds by name, built by toolchain `go` (default: the one on PATH), each a path. */
function goPeers(go = 'go', builds = GO_BUILDS) {
  const source = path.join(__dirname, 'go-tls');
  const files = ['main.go', 'go.mod'].map((f) => path.join(source, f));
  const version = execFileSync(go, ['version'], { encoding: 'utf8', env: { ...process.env, HOME: os.tmpdir(), GOTOOLCHAIN: 'local' } });
  const dir = built('go-tls', files, JSON.stringify({ version, builds }), (into) => {
    // GOTOOLCHAIN=local: a newer Go never looks for another toolchain on the network.
    const env = { ...process.env, HOME: into, GOCACHE: path.join(into, '.cache'), GOFLAGS: '', GO111MODULE: 'on', GOTOOLCHAIN: 'local' };
    for (const [name, build] of Object.entries(builds)) {
      execFileSync(go, ['build', ...build.flags, '-o', path.join(into, name), '.'], {
        cwd: source,
        env: { ...env, ...build.env },
        stdio: 'pipe',
      });
    }
    fs.rmSync(path.join(into, '.cache'), { recursive: true, force: true });
  });
  return Object.fromEntries(Object.keys(builds).map((name) => [name, path.join(dir, name)]));
}

module.exports = { certificate, startServer, startSServer, stop, runClient, watchCapture, goPeers, goToolchains, GO_BUILDS, NODE_SERVER };
