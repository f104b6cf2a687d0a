'use strict';
// A CI check of one command's traffic: runs the command with a capture of its own
// cgroup (its children's packets too, no other process's), then fails if it sent to a
// host that is not allowed. With no --allow, the command must send nothing at all.
//
//   sudo node examples/command-check.js [--allow HOST]... -- npm test
//
// Exit: the command's own code when its traffic is allowed, 1 otherwise, 2 usage.
const { parseArgs } = require('node:util');
const { captureCommand } = require('..');

const { values, positionals: command } = parseArgs({
  allowPositionals: true,
  options: { allow: { type: 'string', multiple: true, default: [] } },
});
if (command.length === 0) {
  console.error('usage: command-check.js [--allow HOST]... -- COMMAND [ARGS]...');
  process.exit(2);
}

/** The destination of an IP packet (a cgroup capture's packets start at the IP header). */
function destination(ip) {
  if (ip[0] >> 4 === 4) return ip.subarray(16, 20).join('.');
  const groups = [];
  for (let i = 24; i < 40; i += 2) groups.push(ip.readUInt16BE(i).toString(16));
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1); // as ::1 is written
}

async function main() {
  const run = await captureCommand(command[0], command.slice(1), { filter: 'ip or ip6' });
  const sentTo = new Map(); // host → packets
  for await (const pkt of run.capturer.packets()) {
    if (pkt.direction !== 'out') continue;
    const host = destination(pkt.data);
    sentTo.set(host, (sentTo.get(host) ?? 0) + 1);
  }
  // The loop ended because the command exited: `exited` has its code.
  const { code, signal } = await run.exited;
  const denied = [...sentTo].filter(([host]) => !values.allow.includes(host));
  for (const [host, n] of denied) console.error(`command-check: sent to ${host}, not allowed (${n} packets)`);
  if (denied.length > 0) return 1;
  console.log(
    `command-check: ok: ${[...sentTo.values()].reduce((a, b) => a + b, 0)} packets, to ${[...sentTo.keys()].join(', ') || 'no host'}`,
  );
  return code ?? 128 + (signal ? require('node:os').constants.signals[signal] : 0);
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(`command-check: ${err.code ?? 'error'}: ${err.message}`);
    process.exitCode = 2;
  },
);
