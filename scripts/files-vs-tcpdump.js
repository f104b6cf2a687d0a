#!/usr/bin/env node
'use strict';
// Replays every capture file under a directory through openCapturer({ file, filter })
// and compares what it gives with what tcpdump (libpcap) reads from the same file:
//
//   node scripts/files-vs-tcpdump.js DIR [--filters] [--cli] [--verbose]
//
// tcpdump writes what it read (test/helpers/as-tcpdump.js), which is compared field
// by field: timestamp, captured and original length, bytes.
// --filters does the same for each of FILTERS; --cli compares the number of packet
// lines `tapwire capture -r FILE` and `tcpdump -r FILE` print. Nothing is downloaded: DIR is
// whatever captures you have (tcpdump's and libpcap's test captures, for example).
// Prints one line per disagreement and a summary; exits 0 whatever it finds.
const fs = require('node:fs');
const path = require('node:path');

const { tcpdumpReads, replayReads, difference, packetLines } = require('../test/helpers/as-tcpdump');

const FILTERS = ['ip', 'ip6', 'tcp', 'udp', 'icmp', 'arp', 'port 53', 'tcp port 80', 'host 10.0.0.1', 'len > 100'];

const US = [0xa1b2c3d4, 0xa1b2cd34]; // classic pcap, microseconds (Kuznetzov's too)
const OTHER = [0xa1b23c4d, 0x0a0d0d0a]; // nanosecond pcap, pcapng

/**
 * Every file below `dir` that starts like a pcap or pcapng file, and whether to compare
 * its times in nanoseconds (libpcap hands over microseconds unless asked).
 */
function captures(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    const head = Buffer.alloc(4);
    const fd = fs.openSync(file, 'r');
    const n = fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    if (n < 4) continue;
    const magics = [head.readUInt32LE(0), head.readUInt32BE(0)];
    if (magics.some((m) => US.includes(m))) out.push({ file, nano: false });
    else if (magics.some((m) => OTHER.includes(m))) out.push({ file, nano: true });
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

async function main() {
  const argv = process.argv.slice(2);
  const dir = argv.find((a) => !a.startsWith('--'));
  if (!dir) {
    console.error('usage: node scripts/files-vs-tcpdump.js DIR [--filters] [--cli] [--verbose]');
    process.exit(2);
  }
  const withFilters = argv.includes('--filters');
  const withCli = argv.includes('--cli');
  const verbose = argv.includes('--verbose');
  const totals = { files: 0, agree: 0, filters: 0, filtersAgree: 0, cli: 0, cliAgree: 0 };
  for (const { file, nano } of captures(dir)) {
    const name = path.relative(dir, file);
    const options = { nano };
    const ref = tcpdumpReads(file, options);
    totals.files++;
    const diff = difference(ref, await replayReads(file, options));
    if (diff === null) totals.agree++;
    else console.log(`${name}: ${diff}`);
    if (verbose && ref.error) console.log(`${name}: ${ref.error}`);
    if (withFilters) {
      for (const filter of FILTERS) {
        totals.filters++;
        const d = difference(tcpdumpReads(file, { ...options, filter }), await replayReads(file, { ...options, filter }));
        if (d === null) totals.filtersAgree++;
        else console.log(`${name} [${filter}]: ${d}`);
      }
    }
    if (withCli) {
      totals.cli++;
      const lines = packetLines(file);
      if (lines.tcpdump === lines.tapwire) totals.cliAgree++;
      else console.log(`${name}: ${lines.tcpdump} packet lines (tcpdump) vs ${lines.tapwire} (tapwire capture)`);
    }
  }
  console.log(
    `files: ${totals.agree} of ${totals.files} agree` +
      (withFilters ? `; filter verdicts: ${totals.filtersAgree} of ${totals.filters} agree` : '') +
      (withCli ? `; packet lines of text: ${totals.cliAgree} of ${totals.cli} agree` : ''),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
