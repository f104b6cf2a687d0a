'use strict';
// The conversation layer's costs:
//
//   sudo node bench/conversations.js [--quick] [--count N] [--reps N]
//
// 1. Through bench/run.js (the same veth, sender, pinning and CPU accounting as the
//    capture benchmark): the header-view loop (every packet's addresses and ports
//    through one reused HeaderView) and flow tracking (every packet into a FlowTable),
//    each backend (and raw-socket's zero-copy batches), at 64 B max rate and 300k/s, as a ratio to tcpdump's CPU per packet
//    in the same run (the target: ≤ 1.5×), beside the plain accessor loop.
// 2. HTTP exchanges per second per core: httpExchanges() over a capture file of
//    keep-alive HTTP/1.1 exchanges, CPU time of this process.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer } = require('..');
const { httpExchanges } = require('../dist/conversations');
const { pcapFile, tcpFrame } = require('../test/helpers/files');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const value = (flag, fallback) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : fallback);
const count = value('--count', quick ? '200000' : '500000');
const reps = value('--reps', quick ? '1' : '3');

function captureCosts(dir) {
  const json = path.join(dir, 'capture.json');
  const capturers = [
    'tcpdump',
    'tapwire-raw',
    'tapwire-raw-headers',
    'tapwire-raw-flows',
    'tapwire-raw-zc',
    'tapwire-raw-zc-headers',
    'tapwire-raw-zc-flows',
    'tapwire-ebpf',
    'tapwire-ebpf-headers',
    'tapwire-ebpf-flows',
  ];
  execFileSync(
    process.execPath,
    [
      path.join(__dirname, 'run.js'),
      '--capturers',
      capturers.join(','),
      '--scenarios',
      '64B-max,64B-300k',
      '--count',
      count,
      '--reps',
      reps,
      '--no-memory',
      '--no-latency',
      '--json',
      json,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return JSON.parse(fs.readFileSync(json, 'utf8'));
}

/** `exchanges` keep-alive HTTP/1.1 exchanges on one connection, as a pcap file. */
function httpFile(file, exchanges) {
  const request = Buffer.from('GET /items/42?full=1 HTTP/1.1\r\nHost: api.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n');
  const response = Buffer.from(
    'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{"id":42,"name":"widget 42"}'.slice(0, -1),
  );
  const packets = [];
  let c = 1000;
  let s = 5000;
  const push = (data) =>
    packets.push({ seconds: 1_700_000_000 + Math.floor(packets.length / 1000), fraction: packets.length % 1000, data });
  push(tcpFrame(c - 1, 0, 0x02, Buffer.alloc(0)));
  push(tcpFrame(s - 1, c, 0x12, Buffer.alloc(0), true));
  for (let i = 0; i < exchanges; i++) {
    push(tcpFrame(c, s, 0x18, request));
    c += request.length;
    push(tcpFrame(s, c, 0x18, response, true));
    s += response.length;
  }
  fs.writeFileSync(file, pcapFile({ packets }));
}

async function httpRate(dir) {
  const file = path.join(dir, 'http.pcap');
  const n = quick ? 20000 : 100000;
  httpFile(file, n);
  const cpu = process.cpuUsage();
  let seen = 0;
  for await (const ex of httpExchanges(await openCapturer({ file }))) if (ex.status === 200) seen++;
  const used = process.cpuUsage(cpu);
  const seconds = (used.user + used.system) / 1e6;
  if (seen !== n) throw new Error(`read ${seen} exchanges of ${n}`);
  return { exchanges: n, cpuSeconds: seconds, perSecondPerCore: n / seconds };
}

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-bench-conv-'));
  try {
    const http = await httpRate(dir);
    const results = args.includes('--http-only') ? null : captureCosts(dir);
    console.log('\nconversation layer: CPU per packet as a ratio to tcpdump in the same run (median of the repetitions)\n');
    if (results) {
      const rows = results.summary.filter((r) => r.capturer !== 'tcpdump' && r.capturer !== 'none');
      console.log('scenario   capturer               ×tcpdump');
      for (const r of rows)
        console.log(`${r.scenario.padEnd(10)} ${r.capturer.padEnd(22)} ${r.cpuVsTcpdump == null ? '–' : r.cpuVsTcpdump.toFixed(2)}`);
    }
    console.log(
      `\nHTTP/1.1 exchanges from a file: ${Math.round(http.perSecondPerCore).toLocaleString('en-US')} per second per core (${http.exchanges} in ${http.cpuSeconds.toFixed(2)} s of CPU)`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
