'use strict';
// A batch and its packets: what `for (const pkt of batch)` yields, and that a packet's
// data is a Buffer like any other (a view of the batch, not a copy).
const assert = require('node:assert/strict');
const { buildBatch } = require('../dist/batch-builder');

function batchOf(payloads) {
  return buildBatch(
    payloads.map((data, i) => ({
      data: Buffer.from(data),
      wireLength: data.length + 10,
      interfaceIndex: 7,
      seconds: 1700000000 + i,
      nanoseconds: 123456789,
      direction: i % 2 ? 'out' : 'in',
      linkType: 1,
    })),
  );
}

describe('batches and packets', function () {
  it('iterates every packet in order, with its fields, and again from the start', function () {
    const batch = batchOf(['first', 'second!', 'third']);
    for (let round = 0; round < 2; round++) {
      const seen = [];
      for (const pkt of batch) seen.push([pkt.data.toString(), pkt.length, pkt.capturedLength, pkt.direction, pkt.interfaceIndex]);
      assert.deepEqual(seen, [
        ['first', 15, 5, 'in', 7],
        ['second!', 17, 7, 'out', 7],
        ['third', 15, 5, 'in', 7],
      ]);
    }
    assert.deepEqual(
      [...batch].map((p) => p.timestampNs),
      [1700000000123456789n, 1700000001123456789n, 1700000002123456789n],
    );
    assert.equal([...batchOf([])].length, 0);
  });

  it('an iterator is its own iterable and ends for good', function () {
    const it = batchOf(['a', 'b'])[Symbol.iterator]();
    assert.equal(it[Symbol.iterator](), it);
    assert.equal(it.next().value.data.toString(), 'a');
    assert.deepEqual(
      [...it].map((p) => p.data.toString()),
      ['b'],
    );
    assert.deepEqual(it.next(), { value: undefined, done: true });
  });

  it("a packet's data is a Buffer in every respect, and a view of the batch", function () {
    const batch = batchOf(['hello', 'world']);
    const [a, b] = batch;
    for (const data of [a.data, b.data, batch.dataAt(1)]) {
      assert.ok(Buffer.isBuffer(data));
      assert.equal(Object.getPrototypeOf(data), Buffer.prototype);
      assert.equal(data.buffer, batch.data.buffer, 'a view, not a copy');
    }
    // Compared as Buffers are: strict deep equality checks the prototype too.
    assert.deepStrictEqual(a.data, Buffer.from('hello'));
    assert.deepStrictEqual(b.data.subarray(1), Buffer.from('orld'));
    assert.equal(b.data.readUInt16BE(0), 0x776f);
    assert.equal(a.data.toString('hex'), '68656c6c6f');
    assert.equal(batch.data[batch.offsetAt(1)], 'w'.charCodeAt(0));
    // Packets outlive the loop that made them.
    const kept = [...batch];
    assert.deepEqual(
      kept.map((p) => p.data.toString()),
      ['hello', 'world'],
    );
  });
});
