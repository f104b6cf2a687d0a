'use strict';
// A real capture: node examples/capture.js [interface] [filter] [seconds]
// Prints the backend chosen and why, one line per packet (up to 20) saying what it is as
// tcpdump -q -nn words it (the `tapwire capture` command's decoder, describePacket),
// after the time, the interface and the direction, then the final counters.
const { openCapturer, describePacket } = require('..');

async function main() {
  const [iface = 'lo', filter = '', seconds = '5'] = process.argv.slice(2);
  const cap = await openCapturer({ interfaces: [iface], filter, signal: AbortSignal.timeout(Number(seconds) * 1000) });
  console.log(`capturing on ${iface} with the ${cap.backend} backend for ${seconds}s`);
  for (const reason of cap.selection.reasons) console.log(`  ${reason}`);
  let shown = 0;
  for await (const batch of cap) {
    for (const pkt of batch) {
      if (shown++ >= 20) continue;
      const time = new Date(pkt.timestamp).toISOString().slice(11, -1); // hh:mm:ss.mmm, UTC
      const name = cap.interfaceName(pkt.interfaceIndex) ?? `if${pkt.interfaceIndex}`;
      const direction = pkt.direction === 'out' ? 'Out' : 'In ';
      console.log(`${time} ${name} ${direction} ${describePacket(pkt.data, pkt.linkType, pkt.length)}`);
    }
  }
  const s = cap.stats();
  console.log(`${s.packets} packets captured, ${s.bytes} bytes, ${s.drops.kernel + s.drops.ring + s.drops.userspace} dropped`);
}

main().catch((err) => {
  console.error(`${err.code ?? 'error'}: ${err.message}`);
  process.exit(1);
});
