'use strict';
// A collector: captures continuously into pcapng files in a directory, starting a new
// file when the current one holds --max-bytes of packet data or is --max-seconds old
// (checked as batches arrive), and keeping only the newest --keep files. Each file ends with its own interface statistics and
// the drops counted while it was open. SIGINT/SIGTERM (or --duration) stop it cleanly.
//
//   node examples/rotating-collector.js --dir /var/capture -i eth0 -f 'tcp port 443' \
//     --max-bytes 100000000 --max-seconds 3600 --keep 24
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { openCapturer, PcapngWriter } = require('..');

const { values: opt } = parseArgs({
  options: {
    dir: { type: 'string' },
    interface: { type: 'string', short: 'i', multiple: true },
    filter: { type: 'string', short: 'f', default: '' },
    'max-bytes': { type: 'string', default: String(64 * 1024 * 1024) },
    'max-seconds': { type: 'string', default: '3600' },
    keep: { type: 'string', default: '10' },
    duration: { type: 'string' },
  },
});
if (!opt.dir) {
  console.error(
    'usage: rotating-collector.js --dir DIR [-i IFACE]... [-f FILTER] [--max-bytes N] [--max-seconds S] [--keep N] [--duration S]',
  );
  process.exit(2);
}
const maxBytes = Number(opt['max-bytes']);
const maxMs = Number(opt['max-seconds']) * 1000;
const keep = Number(opt.keep);

async function main() {
  fs.mkdirSync(opt.dir, { recursive: true });
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => stop.abort());
  if (opt.duration) setTimeout(() => stop.abort(), Number(opt.duration) * 1000).unref();

  const cap = await openCapturer({ interfaces: opt.interface, filter: opt.filter, signal: stop.signal });
  console.log(`capturing with ${cap.backend}${cap.selection.attach ? ` (${cap.selection.attach})` : ''} into ${opt.dir}`);

  let sequence = 0;
  let file = null; // { writer, path, bytes, opened, drops }
  const dropsNow = () => {
    const d = cap.stats().drops;
    return { kernel: d.kernel, ring: d.ring, userspace: d.userspace };
  };
  const open = () => {
    const name = `capture-${new Date().toISOString().replace(/[:.]/g, '-')}-${String(sequence++).padStart(6, '0')}.pcapng`;
    const target = path.join(opt.dir, name);
    file = {
      writer: new PcapngWriter(target, { filter: opt.filter, source: cap }),
      path: target,
      bytes: 0,
      opened: Date.now(),
      drops: dropsNow(),
    };
  };
  const finish = async () => {
    const now = dropsNow();
    const drops = {
      kernel: now.kernel - file.drops.kernel,
      ring: now.ring - file.drops.ring,
      userspace: now.userspace - file.drops.userspace,
    };
    await file.writer.close({ drops });
    console.log(`wrote ${file.path} (${file.bytes} bytes of packets)`);
    file = null;
    // File names sort by time: remove the oldest beyond --keep.
    const all = fs
      .readdirSync(opt.dir)
      .filter((n) => /^capture-.*\.pcapng$/.test(n))
      .sort();
    for (const old of all.slice(0, Math.max(0, all.length - keep))) fs.unlinkSync(path.join(opt.dir, old));
  };

  // Packets [from, to) of a batch into the current file.
  const write = async (batch, from, to) => {
    if (!file.writer.write(batch, (i) => i >= from && i < to)) await file.writer.drained();
  };

  open();
  for await (const batch of cap) {
    // Files turn over between packets, as tcpdump -C and -G do, not only between batches.
    let from = 0;
    for (let i = 0; i < batch.length; i++) {
      if (file.bytes > 0 && (file.bytes >= maxBytes || Date.now() - file.opened >= maxMs)) {
        if (i > from) await write(batch, from, i);
        await finish();
        open();
        from = i;
      }
      file.bytes += batch.capturedLengthAt(i);
    }
    if (batch.length > from) await write(batch, from, batch.length);
  }
  await finish();
  const s = cap.stats();
  console.log(`${s.packets} packets, ${s.drops.kernel + s.drops.ring + s.drops.userspace} dropped`);
}

main().catch((err) => {
  console.error(`${err.code ?? 'error'}: ${err.message}`);
  process.exit(1);
});
