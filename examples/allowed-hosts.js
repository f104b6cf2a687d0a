'use strict';
// A CI check: a service may talk only to the hosts it is allowed to. Either runs the
// service while capturing, or reads a capture file made earlier (no root needed then),
// and fails, naming each other host, if any IP packet came from or went to one.
//
//   node examples/allowed-hosts.js --allow 10.0.0.5 --allow ::1 -i eth0 [-w out.pcapng] -- npm test
//   node examples/allowed-hosts.js --allow 10.0.0.5 -r capture.pcapng
//
// -f narrows what is looked at (default: all IP traffic). Exit 0 allowed, 1 violation, 2 usage.
const { spawn } = require('node:child_process');
const { parseArgs } = require('node:util');
const { openCapturer, PcapngWriter } = require('..');

const { values: opt, positionals: command } = parseArgs({
  allowPositionals: true,
  options: {
    allow: { type: 'string', multiple: true, default: [] },
    interface: { type: 'string', short: 'i', multiple: true },
    filter: { type: 'string', short: 'f', default: 'ip or ip6' },
    read: { type: 'string', short: 'r' },
    write: { type: 'string', short: 'w' },
  },
});
if (opt.allow.length === 0 || Boolean(opt.read) === command.length > 0) {
  console.error('usage: allowed-hosts.js --allow HOST... (-r FILE | [-i IFACE]... [-w FILE] -- COMMAND...)');
  process.exit(2);
}

/** One spelling per address (IPv6 compressed as URLs write it), so "0:0::1" matches "::1". */
function canonical(host) {
  return host.includes(':') ? new URL(`http://[${host}]`).hostname.slice(1, -1) : host;
}

/** The IP source and destination of a frame, or null (not IP, or cut short). */
function addresses(data, linkType) {
  let at;
  if (linkType === 1)
    at = data.length >= 14 && data.readUInt16BE(12) === 0x8100 ? 18 : 14; // Ethernet, one VLAN tag
  else if (linkType === 101)
    at = 0; // raw IP
  else return null;
  const version = data[at] >> 4;
  if (version === 4 && data.length >= at + 20) {
    const ip = (o) => Array.from(data.subarray(at + o, at + o + 4)).join('.');
    return [ip(12), ip(16)];
  }
  if (version === 6 && data.length >= at + 40) {
    const ip = (o) => {
      const groups = [];
      for (let i = 0; i < 16; i += 2) groups.push(data.readUInt16BE(at + o + i).toString(16));
      return canonical(groups.join(':'));
    };
    return [ip(8), ip(24)];
  }
  return null;
}

/** Runs the command to completion, resolving with its exit code. */
function run(argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main() {
  const allowed = new Set(opt.allow.map(canonical));
  const cap = opt.read
    ? await openCapturer({ file: opt.read, filter: opt.filter })
    : await openCapturer({ interfaces: opt.interface, filter: opt.filter });
  const writer = opt.write ? new PcapngWriter(opt.write, { filter: opt.filter, source: cap }) : null;
  const others = new Map(); // host → packets
  let seen = 0;
  const reading = (async () => {
    for await (const batch of cap) {
      if (writer && !writer.write(batch)) await writer.drained();
      for (const pkt of batch) {
        const hosts = addresses(pkt.data, pkt.linkType);
        if (!hosts) continue;
        seen++;
        for (const host of hosts) if (!allowed.has(host)) others.set(host, (others.get(host) ?? 0) + 1);
      }
    }
  })();

  let status = 0;
  if (!opt.read) {
    status = await run(command);
    await cap.close();
  }
  await reading;
  await writer?.close(cap.stats());
  const s = cap.stats();
  const dropped = s.drops.kernel + s.drops.ring + s.drops.userspace;
  if (dropped > 0) {
    console.error(`allowed-hosts: ${dropped} packets were dropped: the check is incomplete`);
    return 1;
  }
  if (others.size > 0) {
    for (const [host, n] of others) console.error(`allowed-hosts: not allowed: ${host} (${n} packet${n === 1 ? '' : 's'})`);
    return 1;
  }
  console.log(`allowed-hosts: ok: ${seen} IP packets, every one between allowed hosts (${[...allowed].join(', ')})`);
  if (status !== 0) console.error(`allowed-hosts: the command exited ${status}`);
  return status;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(`${err.code ?? 'error'}: ${err.message}`);
    process.exitCode = 2;
  },
);
