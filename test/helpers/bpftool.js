'use strict';
// What BPF objects exist, as bpftool lists them. bpftool walks the ids and then opens
// each one: an object released in between (another process closing a capture) makes
// it fail with "can't get link by id (N): Resource temporarily unavailable" (or "No
// such file or directory"). That says only that the list changed: list again.
const { execFileSync } = require('node:child_process');

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

module.exports = { bpfList };
