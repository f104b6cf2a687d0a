'use strict';
// TLS plugin overhead: a keep-alive https client and server (two processes, on
// loopback) with and without tapwire's TLS plugin attached, alternating, same run;
// Node's (OpenSSL in the node binary) and Go's net/http (crypto/tls, hooked by offset;
// skipped without a Go toolchain).
//   node bench/tls.js [--seconds 5] [--reps 3]      (as root, after npm run build:all)
// Prints requests/s of small requests, MB/s of 1 MiB uploads, their ratios, the added
// time per request and per captured call, and whether a paced 5,000 req/s run (Node's
// peers) lost any event.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer } = require('..');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SECONDS = opt('seconds', 5);
const REPS = opt('reps', 3);

const SERVER = `
const https = require('https'); const fs = require('fs');
https.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]) }, (req, res) => {
  req.resume(); req.on('end', () => res.end('ok'));
}).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`;

// mode small: sequential GETs on 8 keep-alive connections for SECONDS; mode big: 1 MiB
// POSTs on 1 connection; mode paced: RATE requests/s for SECONDS. Prints JSON.
const CLIENT = `
const https = require('https');
const [port, mode, seconds, rate] = process.argv.slice(1).map((v, i) => (i === 1 ? v : Number(v)));
const agent = new https.Agent({ keepAlive: true, maxSockets: mode === 'big' ? 1 : 8 });
const body = mode === 'big' ? Buffer.alloc(1 << 20, 1) : null;
let done = 0, bytes = 0; const end = Date.now() + seconds * 1000; const t0 = process.hrtime.bigint();
function one(next) {
  const req = https.request({ host: '127.0.0.1', port, path: '/', method: body ? 'POST' : 'GET', agent, rejectUnauthorized: false,
    headers: body ? { 'content-length': body.length } : {} }, (res) => { res.resume(); res.on('end', () => { done++; if (body) bytes += body.length; next(); }); });
  req.end(body ?? undefined);
}
function finish() { const s = Number(process.hrtime.bigint() - t0) / 1e9; console.log(JSON.stringify({ done, bytes, seconds: s })); process.exit(0); }
if (mode === 'paced') {
  let sent = 0; const total = rate * seconds; const start = Date.now();
  const tick = setInterval(() => { const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * rate));
    while (sent < due) { sent++; one(() => { if (done === total) { clearInterval(tick); finish(); } }); } }, 2);
} else {
  let running = mode === 'big' ? 1 : 8;
  const loop = () => (Date.now() < end ? one(loop) : --running === 0 && finish());
  for (let i = 0, n = running; i < n; i++) loop();
}`;

function run(cmd, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The client and server of each workload: how to start them, how to run a client. */
function peers(key, cert) {
  const out = {
    node: {
      server: [process.execPath, ['-e', SERVER, key, cert]],
      client: (port, mode) => [process.execPath, ['-e', CLIENT, String(port), mode, String(SECONDS), '0']],
    },
  };
  let go;
  try {
    go = require('../test/helpers/tls-peers').goPeers('go', { default: { flags: [], env: {} } }).default;
  } catch (err) {
    console.error(`no Go workload: ${err.message.split('\n')[0]}`);
    return out;
  }
  out.go = {
    server: [go, ['server', cert, key, '2']],
    client: (port, mode) => [go, ['load', `https://127.0.0.1:${port}/`, mode, String(SECONDS)]],
  };
  return out;
}

async function startServer([cmd, argv]) {
  const server = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(Number(/\d+/.exec(String(d))[0]))));
  return { server, port };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-tlsbench-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'],
    { stdio: 'ignore' },
  );
  const servers = [];
  let nodePort;
  const rows = [];
  const capturerRows = [];
  try {
    for (const [name, peer] of Object.entries(peers(key, cert))) {
      const { server, port } = await startServer(peer.server);
      servers.push(server);
      if (name === 'node') nodePort = port;
      const results = { small: { off: [], on: [] }, big: { off: [], on: [] } };
      let calls = 0;
      const capturer = { small: [], big: [] };
      for (let rep = 0; rep < REPS; rep++) {
        for (const mode of ['small', 'big']) {
          for (const tls of ['off', 'on']) {
            const cap =
              tls === 'on'
                ? await openCapturer({
                    interfaces: ['lo'],
                    filter: 'tcp port 1',
                    tls: process.env.TW_TLS_PIDS ? { mode: 'required', pids: [Number(process.env.TW_TLS_PIDS)] } : 'required',
                  })
                : null;
            let seen = 0;
            // This process is the capturer: its CPU during the run is the plugin's user-space cost.
            const cpu0 = process.cpuUsage();
            const reading =
              cap &&
              (async () => {
                for await (const _ of cap.tls) seen++;
              })();
            const r = JSON.parse(await run(...peer.client(port, mode)));
            await cap?.close();
            await reading;
            const cpu = process.cpuUsage(cpu0);
            if (cap) capturer[mode].push({ us: cpu.user + cpu.system, events: seen, seconds: r.seconds });
            if (cap && mode === 'small') calls += seen / r.done;
            results[mode][tls].push(mode === 'small' ? r.done / r.seconds : r.bytes / r.seconds / 1e6);
            console.error(
              `${name} rep ${rep + 1} ${mode} tls ${tls}: ${mode === 'small' ? `${(r.done / r.seconds).toFixed(0)} req/s` : `${(r.bytes / r.seconds / 1e6).toFixed(1)} MB/s`}${cap ? `, ${seen} events` : ''}`,
            );
          }
        }
      }
      const smallOff = median(results.small.off);
      const smallOn = median(results.small.on);
      const bigOff = median(results.big.off);
      const bigOn = median(results.big.on);
      const perRequestUs = (1e6 / smallOn - 1e6 / smallOff) * 8; // 8 connections in flight
      rows.push(
        `| ${name}: small keep-alive requests (8 connections) | ${smallOff.toFixed(0)} req/s | ${smallOn.toFixed(0)} req/s | ${(smallOn / smallOff).toFixed(2)} |`,
        `| ${name}: 1 MiB uploads (1 connection) | ${bigOff.toFixed(1)} MB/s | ${bigOn.toFixed(1)} MB/s | ${(bigOn / bigOff).toFixed(2)} |`,
      );
      capturerRows.push(
        `${name}: added time per request: ${perRequestUs.toFixed(1)} µs of latency per request; ${(calls / REPS).toFixed(1)} captured calls per request; per captured call ≈ ${(perRequestUs / (calls / REPS)).toFixed(1)} µs`,
      );
      for (const mode of ['small', 'big']) {
        const runs = capturer[mode];
        const perEvent = median(runs.map((c) => c.us / Math.max(1, c.events)));
        const share = median(runs.map((c) => c.us / 1e6 / c.seconds));
        capturerRows.push(
          `${name}: capturer (this process: drain, events, the loop) ${mode}: ${perEvent.toFixed(1)} µs CPU per event, ${(share * 100).toFixed(0)}% of a core`,
        );
      }
      if (name !== 'node') server.kill(); // the paced run below uses the node server
    }
    // Paced: every request's four calls (client write/read, server read/write) should arrive.
    const rate = 5000;
    const cap = await openCapturer({ interfaces: ['lo'], filter: 'tcp port 1', tls: 'required' });
    let seen = 0;
    const reading = (async () => {
      for await (const e of cap.tls) if (/^GET \/ HTTP|^HTTP\/1\.1 200|^ok$/.test(e.data.subarray(0, 16).toString('latin1'))) seen++;
    })();
    const paced = JSON.parse(await run(process.execPath, ['-e', CLIENT, String(nodePort), 'paced', String(SECONDS), String(rate)]));
    await cap.close();
    await reading;
    const lost = cap.tls.stats().lost;
    console.log(
      `\nTLS plugin overhead, ${REPS} rep(s) of ${SECONDS} s each, medians (node bench/tls.js --seconds ${SECONDS} --reps ${REPS})\n`,
    );
    console.log('| workload | without plugin | with plugin | ratio |');
    console.log('|---|---|---|---|');
    for (const row of rows) console.log(row);
    console.log();
    for (const row of capturerRows) console.log(row);
    console.log(
      `paced ${rate} req/s for ${SECONDS} s: ${paced.done} requests, ${seen} of ${paced.done * 4} expected events, lost records ${lost.records}, truncated bytes ${lost.truncatedBytes}`,
    );
  } finally {
    for (const server of servers) server.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
