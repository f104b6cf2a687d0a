'use strict';
// Run by the package check inside its slim root, against the installed package: sends
// COUNT UDP datagrams over loopback to a port of its own and captures them with
// BACKEND, filtered in the kernel, into OUT (pcapng). Prints one JSON line of counts.
// With 'cgroup', it captures every process's traffic from the root cgroup instead of lo
// (each datagram then shows twice: leaving the sender's socket and reaching the
// receiver's), with attribution, and `own` counts the packets said to be this process's
// (every one is: it holds both sockets).
// Usage: node loopback.js BACKEND COUNT OUT [cgroup]
const dgram = require('node:dgram');
const { once } = require('node:events');
const { openCapturer, PcapngWriter } = require('tapwire');

async function main() {
  const [backend, countArg, out, where] = process.argv.slice(2);
  const attribution = where === 'cgroup';
  const count = Number(countArg);
  const receiver = dgram.createSocket('udp4');
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  const port = receiver.address().port;
  let received = 0;
  receiver.on('message', () => received++);

  const filter = `udp and dst port ${port}`;
  const source = attribution ? { cgroup: '/', attribution } : { interfaces: ['lo'] };
  const cap = await openCapturer({ ...source, filter, backend, signal: AbortSignal.timeout(10_000) });
  const writer = new PcapngWriter(out, { filter, source: cap });
  const sender = dgram.createSocket('udp4');
  for (let i = 0; i < count; i++) {
    await new Promise((resolve, reject) => sender.send(`tapwire ${i}`, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }
  sender.close();

  // Loopback shows each datagram once, arriving (in), as libpcap shows it.
  const seen = { in: 0, out: 0 };
  let own = 0;
  for await (const batch of cap) {
    writer.write(batch);
    for (const pkt of batch) {
      seen[pkt.direction]++;
      if (pkt.process?.pid === process.pid) own++;
    }
    if (seen.in >= count) break;
  }
  await cap.close();
  await writer.close(cap.stats());
  receiver.close();
  const s = cap.stats();
  console.log(
    JSON.stringify({
      backend: cap.backend,
      attach: cap.selection.attach ?? null,
      port,
      sent: count,
      received,
      in: seen.in,
      out: seen.out,
      packets: s.packets,
      drops: s.drops,
      ...(attribution ? { own } : {}),
    }),
  );
}

main().catch((err) => {
  console.error(`${err.code ?? 'error'}: ${err.message}`);
  process.exit(1);
});
