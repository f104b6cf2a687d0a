'use strict';
// What a process holds of the kernel, by kind: its file descriptors, the BPF objects and
// packet sockets among them, and its resident memory. A leak shows as a count that grows.
const fs = require('node:fs');

/** Inodes of the packet sockets in this network namespace. */
function packetSocketInodes() {
  const lines = fs.readFileSync('/proc/net/packet', 'utf8').trim().split('\n').slice(1);
  return new Set(lines.map((l) => l.trim().split(/\s+/)[8]));
}

/** { fds, bpfProgs, bpfMaps, bpfLinks, packetSockets } of process `pid` (default: this one). */
function descriptors(pid = 'self') {
  const packet = packetSocketInodes();
  const counts = { fds: 0, bpfProgs: 0, bpfMaps: 0, bpfLinks: 0, packetSockets: 0 };
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target;
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // the descriptor readdir itself used, closed since
    }
    counts.fds++;
    if (target === 'anon_inode:bpf-prog') counts.bpfProgs++;
    else if (target === 'anon_inode:bpf-map') counts.bpfMaps++;
    else if (target === 'anon_inode:bpf_link') counts.bpfLinks++;
    else if (packet.has(/^socket:\[(\d+)\]$/.exec(target)?.[1])) counts.packetSockets++;
  }
  return counts;
}

/** Resident set size of this process, bytes. */
function rss() {
  return process.memoryUsage.rss();
}

module.exports = { descriptors, rss };
