'use strict';
// Reads the sanitizer logs of a run (scripts/memcheck.sh asan-test): every ASan error and
// UBSan report counts; a leak counts when the addon made the allocation (the first
// frame past the allocator is in tapwire.node or in its sources). Programs that are
// not the addon (node's own heap when a child calls process.exit(), ip, tcpdump...) may
// leave memory to the system at exit: that is not ours to report.
//   node test/memcheck/sanitizer-reports.js LOGDIR    exits 1 and prints what counts
const fs = require('node:fs');
const path = require('node:path');

const ALLOCATOR = /libclang_rt\.|libstdc\+\+|libc\.so|libgcc_s|\b(malloc|calloc|realloc|operator new|strdup)\b/;
const OURS = /tapwire\.node|\/native\/|\/deps\/src\//;

/** Whether a leak report's allocation stack starts in the addon. */
function leakIsOurs(block) {
  const frames = block.split('\n').filter((l) => /^\s+#\d+ /.test(l));
  const first = frames.find((f) => !ALLOCATOR.test(f));
  return first !== undefined && OURS.test(first);
}

function counted(dir) {
  const found = [];
  for (const name of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    if (/runtime error:/.test(text)) found.push(`${name}: UBSan\n${text}`);
    for (const error of text.split(/^=+\n/m)) {
      if (/ERROR: AddressSanitizer/.test(error)) found.push(`${name}: ASan\n${error}`);
      if (!/ERROR: LeakSanitizer/.test(error)) continue;
      for (const block of error.split(/\n(?=(?:Direct|Indirect) leak of)/).slice(1)) {
        if (leakIsOurs(block)) found.push(`${name}: a leak of the addon\n${block}`);
      }
    }
  }
  return found;
}

const found = counted(process.argv[2]);
for (const report of found) console.error(report);
process.exit(found.length > 0 ? 1 : 0);
