#!/usr/bin/env node
'use strict';
// Coverage of `attribution: true`: the share of packets attributed, by method, for a
// mixed workload on loopback (where both ends are local, so each packet can name its
// receiver and its sender): a python server whose listening socket predates the
// capture, answered by curl, a python client and a node client over IPv4; a node server
// opened after the capture, over IPv6; unconnected UDP sendto from python; and a
// datagram to a closed port, whose ICMP error the kernel sends itself.
//
//   sudo node bench/attribution.js [--rounds N] [--packets N] [--reps N]
//
// Then the kernel-side cost per packet: the capture programs' own run time, as the
// kernel counts it (kernel.bpf_stats_enabled: run_time_ns / run_cnt of the filter
// program each packet enters, which tail-calls the copy), without and with attribution,
// for UDP datagrams of 64 and 1400 bytes arriving on a veth from another namespace (the
// receiver looked up) and over loopback (the receiver and the sender looked up). bench/run.js's tapwire-ebpf-attribution measures the
// same from the sender's CPU, with more noise.
const { execFileSync, spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { openCapturer } = require(path.join(__dirname, '..'));
// The test suite's readers of what BPF objects exist and which this process holds.
const { bpfList, objectsOf } = require(path.join(__dirname, '..', 'test', 'helpers', 'bpftool'));

const arg = (name, fallback) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
const rounds = arg('--rounds', 5);
const costPackets = arg('--packets', 200000);
const reps = arg('--reps', 5);
const PY_PORT = 18181;
const UDP_PORT = 18182;
const CLOSED_PORT = 18183;

function run(cmd, args) {
  return new Promise((resolve) => spawn(cmd, args, { stdio: 'ignore' }).on('close', resolve));
}

async function main() {
  const py = spawn('python3', ['-m', 'http.server', String(PY_PORT), '--bind', '127.0.0.1'], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const cap = await openCapturer({
    interfaces: 'lo',
    filter: `port ${PY_PORT} or port ${UDP_PORT} or port ${CLOSED_PORT} or icmp or (ip6 and tcp)`,
    attribution: true,
  });
  const node6 = http.createServer((req, res) => res.end('ok'));
  await new Promise((resolve) => node6.listen(0, '::1', resolve));
  const udp = dgram.createSocket('udp4');
  await new Promise((resolve) => udp.bind(UDP_PORT, '127.0.0.1', resolve));
  const batches = [];
  const reading = (async () => {
    for await (const b of cap) batches.push(b);
  })();
  const url = `http://127.0.0.1:${PY_PORT}/`;
  for (let i = 0; i < rounds; i++) {
    await run('curl', ['-s', '-o', '/dev/null', url]);
    await run('python3', ['-c', `import urllib.request; urllib.request.urlopen('${url}').read()`]);
    await new Promise((resolve) => http.get(url, (res) => res.resume().on('end', resolve)));
    await run('python3', ['-c', `import urllib.request; urllib.request.urlopen('http://[::1]:${node6.address().port}/').read()`]);
    await run('python3', [
      '-c',
      `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(3): s.sendto(b'x', ('127.0.0.1', ${UDP_PORT}))`,
    ]);
    await run('python3', [
      '-c',
      `import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', ${CLOSED_PORT}))`,
    ]);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  await cap.close();
  await reading;
  node6.close();
  udp.close();
  py.kill();

  const rows = new Map();
  const count = (key, p) => {
    const r = rows.get(key) ?? { packets: 0, socket: 0, tuple: 0, cgroup: 0, none: 0, peer: 0 };
    r.packets++;
    r[p.attribution]++;
    if (p.peerProcess) r.peer++;
    rows.set(key, r);
  };
  for (const b of batches) {
    for (const p of b) {
      const d = p.data;
      const type = d.readUInt16BE(12);
      const l4 = type === 0x86dd ? d[14 + 6] : d[14 + 9];
      const family = type === 0x86dd ? 'IPv6' : 'IPv4';
      const proto = l4 === 6 ? 'TCP' : l4 === 17 ? 'UDP' : l4 === 1 || l4 === 58 ? 'ICMP' : `proto ${l4}`;
      const sport = proto === 'TCP' || proto === 'UDP' ? d.readUInt16BE(type === 0x86dd ? 54 : 34) : 0;
      const dport = proto === 'TCP' || proto === 'UDP' ? d.readUInt16BE(type === 0x86dd ? 56 : 36) : 0;
      let what = `${family} ${proto}`;
      if (dport === CLOSED_PORT || proto === 'ICMP') what = `${family} UDP to a closed port, and its ICMP error`;
      else if (sport === PY_PORT || dport === PY_PORT) what = `${family} TCP, python server (opened before the capture)`;
      else if (proto === 'TCP') what = `${family} TCP, node server (opened after the capture)`;
      else if (dport === UDP_PORT) what = `${family} UDP sendto, unconnected`;
      count(what, p);
      count('all', p);
    }
  }
  const pct = (n, of) => `${((100 * n) / of).toFixed(1)}%`;
  console.log(`kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, ${rounds} rounds\n`);
  console.log('| traffic | packets | socket | tuple | cgroup | none | other end named (loopback) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [what, r] of rows) {
    console.log(
      `| ${what} | ${r.packets} | ${['socket', 'tuple', 'cgroup', 'none', 'peer'].map((k) => pct(r[k], r.packets)).join(' | ')} |`,
    );
  }
}

/** Run time and runs of the filter programs this process holds, from bpftool. */
function programStats() {
  const ids = objectsOf(process.pid).progs;
  return bpfList('prog').filter((p) => ids.has(p.id) && p.name === 'tw_filter');
}

/** A veth pair to a namespace of its own, whose end there sends; `remove()` deletes both. */
function vethPair() {
  const ns = `twattr-${process.pid}`;
  const ip = (...a) => execFileSync('ip', a, { stdio: 'ignore' });
  ip('netns', 'add', ns);
  try {
    ip('link', 'add', `${ns}o`, 'type', 'veth', 'peer', 'name', `${ns}i`, 'netns', ns);
    ip('addr', 'add', '198.19.77.1/30', 'dev', `${ns}o`);
    ip('-n', ns, 'addr', 'add', '198.19.77.2/30', 'dev', `${ns}i`);
    ip('link', 'set', `${ns}o`, 'up');
    ip('-n', ns, 'link', 'set', `${ns}i`, 'up');
  } catch (err) {
    ip('netns', 'del', ns);
    throw err;
  }
  return { ns, iface: `${ns}o`, local: '198.19.77.1', remove: () => ip('netns', 'del', ns) };
}

async function costOnce(where, attribution, size) {
  const sink = dgram.createSocket('udp4');
  await new Promise((resolve) => sink.bind(UDP_PORT, where.local, resolve));
  const cap = await openCapturer({ interfaces: where.iface, filter: `udp port ${UDP_PORT}`, attribution });
  const reading = (async () => {
    for await (const b of cap) void b;
  })();
  const before = programStats();
  const send = `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\np = b'x' * ${size}\nfor i in range(${costPackets}): s.sendto(p, ('${where.local}', ${UDP_PORT}))`;
  execFileSync(...(where.ns ? ['ip', ['netns', 'exec', where.ns, 'python3', '-c', send]] : ['python3', ['-c', send]]));
  const after = programStats();
  await cap.close();
  await reading;
  sink.close();
  let ns = 0;
  let runs = 0;
  for (const p of after) {
    const b = before.find((q) => q.id === p.id);
    ns += (p.run_time_ns ?? 0) - (b?.run_time_ns ?? 0);
    runs += (p.run_cnt ?? 0) - (b?.run_cnt ?? 0);
  }
  return ns / runs;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function cost() {
  const was = fs.readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
  const veth = vethPair();
  try {
    console.log(
      `\nkernel-side cost: the capture programs' run time per packet (kernel.bpf_stats_enabled), ${costPackets} UDP datagrams a run, ` +
        `runs without and with attribution alternated, medians of ${reps}\n`,
    );
    console.log('| where | payload | without attribution | with attribution | added |');
    console.log('|---|---|---|---|---|');
    const places = [
      { name: 'veth, arriving from another namespace (the receiver looked up)', iface: veth.iface, local: veth.local, ns: veth.ns },
      { name: 'loopback (receiver and sender looked up)', iface: 'lo', local: '127.0.0.1' },
    ];
    for (const where of places) {
      for (const size of [64, 1400]) {
        const off = [];
        const on = [];
        for (let i = 0; i < reps; i++) {
          off.push(await costOnce(where, false, size));
          on.push(await costOnce(where, true, size));
        }
        const [a, b] = [median(off), median(on)];
        console.log(
          `| ${where.name} | ${size} B | ${a.toFixed(0)} ns | ${b.toFixed(0)} ns | +${(b - a).toFixed(0)} ns (${((100 * (b - a)) / a).toFixed(0)}%) |`,
        );
      }
    }
  } finally {
    veth.remove();
    fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', was);
  }
}

main()
  .then(cost)
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
