'use strict';
// A real capture: node examples/capture.js [interface] [filter] [seconds]
// Prints the backend chosen and why, each packet (up to 20), and the final counters.
const { openCapturer } = require('..');

async function main() {
  const [iface = 'lo', filter = '', seconds = '5'] = process.argv.slice(2);
  const cap = await openCapturer({ interfaces: [iface], filter, signal: AbortSignal.timeout(Number(seconds) * 1000) });
  console.log(`capturing on ${iface} with the ${cap.backend} backend for ${seconds}s`);
  for (const reason of cap.selection.reasons) console.log(`  ${reason}`);
  let shown = 0;
  for await (const batch of cap) {
    for (const pkt of batch) {
      if (shown++ >= 20) continue;
      const time = new Date(pkt.timestamp).toISOString();
      console.log(
        `${time} ${pkt.direction.padEnd(3)} if${pkt.interfaceIndex} len ${pkt.length} ${pkt.data.subarray(0, 24).toString('hex')}`,
      );
    }
  }
  const s = cap.stats();
  console.log(`${s.packets} packets captured, ${s.bytes} bytes, ${s.drops.kernel + s.drops.ring + s.drops.userspace} dropped`);
}

main().catch((err) => {
  console.error(`${err.code ?? 'error'}: ${err.message}`);
  process.exit(1);
});
