'use strict';
// What BPF objects exist, as bpftool lists them. bpftool walks the ids and then opens
// each one: an object released in between (another process closing a capture) makes
// it fail with "can't get link by id (N): Resource temporarily unavailable" (or "No
// such file or directory"). That says only that the list changed: list again.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');

const VANISHED = /can't get \w+ by id \(\d+\)/;

/** `bpftool -j KIND show` (KIND: prog, map, link), parsed. */
function bpfList(kind) {
  for (let attempt = 1; ; attempt++) {
    try {
      return JSON.parse(execFileSync('bpftool', ['-j', kind, 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) || '[]');
    } catch (err) {
      if (attempt >= 20 || !VANISHED.test(`${err.stdout}${err.stderr}`)) throw err;
    }
  }
}

/**
 * The BPF programs and links process `pid` holds descriptors of, by id (from
 * /proc/PID/fdinfo): exactly its own, whatever other processes load meanwhile.
 */
function objectsOf(pid) {
  const ids = { progs: new Set(), links: new Set() };
  const dir = `/proc/${pid}/fdinfo`;
  for (const fd of fs.readdirSync(dir)) {
    let info;
    try {
      info = fs.readFileSync(`${dir}/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const prog = /^prog_id:\s+(\d+)/m.exec(info);
    const link = /^link_id:\s+(\d+)/m.exec(info);
    if (prog) ids.progs.add(Number(prog[1]));
    if (link) ids.links.add(Number(link[1]));
  }
  return ids;
}

module.exports = { bpfList, objectsOf };
