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

  it('byte and integer readers read each packet in place, big-endian, and -1 outside its captured bytes', function () {
    const first = Buffer.from([0x45, 0x00, 0x01, 0xff, 0xfe, 0xdc, 0xba, 0x98]);
    const second = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x80]);
    const batch = batchOf([first, second]);
    const [a, b] = [...batch];
    for (let o = 0; o < first.length; o++) {
      assert.equal(a.byteAt(o), first[o]);
      assert.equal(batch.byteAt(0, o), first[o]);
    }
    for (let o = 0; o + 2 <= first.length; o++) assert.equal(a.u16(o), first.readUInt16BE(o));
    for (let o = 0; o + 4 <= first.length; o++) assert.equal(a.u32(o), first.readUInt32BE(o));
    // Unsigned where the top bit is set, and never a byte of the next packet.
    assert.equal(b.u32(0), 0xffffffff);
    assert.equal(b.u32(1), 0xffffff80);
    assert.equal(b.u16(4), -1);
    assert.equal(a.u32(5), -1);
    assert.equal(a.byteAt(first.length), -1);
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
      assert.equal(a.byteAt(bad), -1);
      assert.equal(a.u16(bad), -1);
      assert.equal(a.u32(bad), -1);
    }
    // A packet index the batch does not hold.
    assert.equal(batch.byteAt(2, 0), -1);
    assert.equal(batch.u32At(-1, 0), -1);
  });
});

describe('lent batches (zeroCopy), without a kernel: a batch over memory it does not own', function () {
  const { Batch } = require('../dist/batch');
  // The records and bytes of a built batch, placed in a larger "ring" at an offset, as a
  // lent block's are: the records point into the ring.
  function lent(payloads) {
    const owned = batchOf(payloads);
    const words = payloads.length * 8;
    const ring = Buffer.alloc(4096, 0xee);
    const meta = new Uint32Array(words);
    const release = { calls: 0 };
    let at = 1000;
    for (let i = 0; i < payloads.length; i++) {
      const m = new Uint32Array(owned.data.buffer, owned.data.byteOffset, words);
      meta.set(m.subarray(i * 8, i * 8 + 8), i * 8);
      owned.dataAt(i).copy(ring, at);
      meta[i * 8] = at; // OFFSET
      at += owned.capturedLengthAt(i) + 3;
    }
    const batch = new Batch(meta, ring, payloads.length, owned.bytes, undefined, undefined, {
      size: 65536,
      release: () => release.calls++,
    });
    return { batch, ring, release };
  }

  it('reads in place; release() gives it back once, and reading it after is ERR_RELEASED', function () {
    const { batch, release } = lent(['one', 'two!']);
    assert.equal(batch.lent, true);
    assert.equal(batch.byteLength, 65536);
    assert.deepEqual(
      [...batch].map((p) => p.data.toString()),
      ['one', 'two!'],
    );
    const pkt = batch.at(1);
    batch.release();
    batch.release();
    assert.equal(release.calls, 1);
    assert.equal(batch.lent, false);
    for (const read of [
      () => batch.lengthAt(0),
      () => batch.data,
      () => batch.dataAt(0),
      () => batch.byteAt(0, 0),
      () => pkt.length,
      () => [...batch],
      () => batch.at(0),
      () => batch.copy(),
    ]) {
      assert.throws(read, { code: 'ERR_RELEASED', name: 'ReleasedError' });
    }
  });

  it('copy() holds the same packets in memory of its own; keep() moves a lent batch there in place', function () {
    const { batch, ring, release } = lent(['alpha', 'be']);
    const copy = batch.copy();
    assert.equal(copy.lent, false);
    assert.equal(copy.copy(), copy, 'a batch that is not lent is its own copy');
    ring.fill(0); // the kernel writes the block again
    assert.deepEqual(
      [...copy].map((p) => [p.data.toString(), p.length, p.timestampNs]),
      [
        ['alpha', 15, 1700000000123456789n],
        ['be', 12, 1700000001123456789n],
      ],
    );
    const other = lent(['gamma']);
    other.batch.keep();
    assert.equal(other.release.calls, 1, 'the block went back');
    other.ring.fill(0);
    assert.equal(other.batch.lent, false);
    assert.equal(other.batch.dataAt(0).toString(), 'gamma');
    assert.equal(release.calls, 0, 'copy() lends nothing back');
  });
});
