'use strict';
// The queue under the Capturer and the TLS plugin: flow control by bytes, one reader,
// and an end that comes after every item, with or without an error.
const assert = require('node:assert/strict');
const { BoundedQueue } = require('../dist/bounded-queue');

function queue(highWaterMark = 10) {
  const calls = [];
  const finished = [];
  const q = new BoundedQueue({
    highWaterMark,
    sizeOf: (item) => item.length,
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
    busy: 'busy here',
    done: (item) => finished.push(item),
  });
  return { q, calls, finished };
}

describe('bounded queue', function () {
  it('pauses the source above the high-water mark and resumes it at half, once each', async function () {
    const { q, calls } = queue(10);
    const reader = q.reader();
    for (const item of ['aaaa', 'bbbb', 'cccc', 'dddd']) q.push(item);
    assert.deepEqual(calls, ['pause'], '16 bytes > 10: paused once');
    assert.equal((await reader.next()).value, 'aaaa');
    assert.deepEqual(calls, ['pause'], '12 bytes left: still paused');
    assert.equal((await reader.next()).value, 'bbbb');
    assert.deepEqual(calls, ['pause'], '8 bytes left: below the mark, above half of it');
    assert.equal((await reader.next()).value, 'cccc');
    assert.deepEqual(calls, ['pause', 'resume'], '4 bytes left: resumed');
    await reader.next();
    assert.deepEqual(calls, ['pause', 'resume']);
  });

  it("is done with an item when the reader asks for the next one, or stops: a zero-copy batch's release", async function () {
    const { q, finished } = queue(100);
    let reader = q.reader();
    q.push('a');
    q.push('b');
    assert.equal((await reader.next()).value, 'a');
    assert.deepEqual(finished, [], 'the reader still has a');
    const waiting = reader.next().then((r) => r.value);
    assert.deepEqual(finished, ['a']);
    assert.equal(await waiting, 'b');
    const next = reader.next();
    assert.deepEqual(finished, ['a', 'b']);
    q.push('c'); // straight to the waiting reader
    assert.equal((await next).value, 'c');
    await reader.return();
    assert.deepEqual(finished, ['a', 'b', 'c'], 'a reader that stops is done with what it had');
    reader = q.reader();
    q.end();
    assert.equal((await reader.next()).done, true);
    assert.deepEqual(finished, ['a', 'b', 'c'], 'nothing twice');
  });

  it('a reader that stops leaves what waits to unread(); an item counts the size it had when queued', async function () {
    const left = [];
    const calls = [];
    const sizes = new Map([
      ['a', 6],
      ['b', 6],
      ['c', 6],
    ]);
    const q = new BoundedQueue({
      highWaterMark: 10,
      sizeOf: (item) => sizes.get(item),
      pause: () => calls.push('pause'),
      resume: () => calls.push('resume'),
      busy: 'busy here',
      unread: (item) => left.push(item),
    });
    const reader = q.reader();
    for (const item of ['a', 'b', 'c']) q.push(item);
    assert.deepEqual(calls, ['pause']);
    // Kept in smaller memory while queued (a lent batch copied): what was added is what comes off.
    for (const item of ['a', 'b', 'c']) sizes.set(item, 1);
    assert.equal((await reader.next()).value, 'a');
    await reader.return();
    assert.deepEqual(left, ['b', 'c']);
    assert.equal(q.bytes, 12);
    const again = q.reader();
    assert.equal((await again.next()).value, 'b');
    assert.equal((await again.next()).value, 'c');
    assert.equal(q.bytes, 0);
    assert.deepEqual(calls, ['pause', 'resume']);
  });

  it('hands an item straight to a waiting reader, holding nothing', async function () {
    const { q, calls } = queue(0);
    const reader = q.reader();
    const waiting = reader.next();
    q.push('x'.repeat(100));
    assert.deepEqual(await waiting, { value: 'x'.repeat(100), done: false });
    assert.deepEqual(calls, [], 'nothing waited, so nothing paused');
  });

  it('ends after the items it holds; a waiting reader gets the end', async function () {
    const { q } = queue();
    const reader = q.reader();
    q.push('a');
    q.end();
    assert.equal(q.finished, false, 'an item is left');
    assert.deepEqual(await reader.next(), { value: 'a', done: false });
    assert.equal(q.finished, true);
    assert.deepEqual(await reader.next(), { value: undefined, done: true });

    const { q: other } = queue();
    const waiting = other.reader().next();
    other.end();
    assert.deepEqual(await waiting, { value: undefined, done: true });
  });

  it('ends with an error after the last item, and hands it over once', async function () {
    const { q } = queue();
    const reader = q.reader();
    q.push('last');
    q.fail(new Error('source broke'));
    q.end();
    assert.deepEqual(await reader.next(), { value: 'last', done: false });
    await assert.rejects(reader.next(), /source broke/);
    assert.deepEqual(await q.reader().next(), { value: undefined, done: true }, 'the error went to the reader it ended');

    const { q: other } = queue();
    const waiting = other.reader().next();
    other.fail(new Error('while waiting'));
    other.end();
    await assert.rejects(waiting, /while waiting/);
  });

  it('has one reader at a time: a second is ERR_BUSY until the first returns', async function () {
    const { q } = queue();
    const first = q.reader();
    assert.equal(q.reading, true);
    assert.throws(() => q.reader(), { code: 'ERR_BUSY', message: 'busy here' });
    await first.return();
    assert.equal(q.reading, false);
    q.reader();
  });
});
