'use strict';
const fs = require('node:fs');
const { setTimeout: sleep } = require('node:timers/promises');

/**
 * Reads `cap` while `action` runs, lets the last frames clear the stack, closes the
 * capturer (which hands over everything captured) and returns every packet. Batches are
 * kept past the next one, so a zero-copy batch is copied, as any consumer's must be.
 */
async function captureWhile(cap, action) {
  const batches = [];
  const reading = (async () => {
    for await (const batch of cap) batches.push(batch.copy());
  })();
  const result = await action();
  await sleep(100);
  await cap.close();
  await reading;
  return { packets: batches.flatMap((b) => [...b]), batches, result };
}

function rxPackets(iface) {
  return Number(fs.readFileSync(`/sys/class/net/${iface}/statistics/rx_packets`, 'utf8'));
}

module.exports = { captureWhile, rxPackets };
