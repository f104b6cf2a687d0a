'use strict';
// Bad input at every parser boundary: hostile streams (huge header blocks, endless
// chunk sizes, an HPACK bomb, a DNS compression loop) are counted and stopped with
// bounded memory; and property tests (fast-check) feed each boundary arbitrary,
// truncated, reordered and duplicated input: nothing throws, nothing hangs, nothing
// grows past its limit.
const assert = require('node:assert');
const fc = require('fast-check');
const { HeaderView, LINKTYPE } = require('../..');
const { parseHello, StreamTable, HttpParsers, DnsParsers } = require('../../dist/conversations');
const { Reassembler } = require('../../dist/conversations/reassembly');
const { ClientHelloReader } = require('../../dist/conversations/tls-hello');
const { corpus } = require('../helpers/corpus');

// Runs briefly in the suite; FUZZ_RUNS=100000 for a longer session.
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

function fakeStream(id = 'tcp:1') {
  const end = (port) => ({ address: '127.0.0.1', port, process: null, packets: 0, bytes: 0 });
  const flow = { id: 1, client: end(40000), server: end(53), protocol: 'tcp' };
  return { id, kind: 'tcp', client: flow.client, server: flow.server, flow, tls: null };
}

/** Feeds `client` and `server` chunks (alternating as given) to HTTP parsers; returns exchanges and stats. */
function http(chunks, options) {
  const exchanges = [];
  const parsers = new HttpParsers((ex) => exchanges.push(ex), options);
  const stream = fakeStream();
  let t = 0;
  for (const [from, data] of chunks) parsers.data(stream, from, data, t++);
  parsers.close(stream, t);
  return { exchanges, stats: parsers.stats };
}

function hpackInt(value, prefixBits, first) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  value -= max;
  while (value >= 128) {
    out.push((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out.push(value);
  return out;
}

function frame(type, flags, stream, payload) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

describe('bad input', function () {
  describe('hostile streams', function () {
    it('an HTTP/1 header block past the limit stops the stream, counted, without holding it', function () {
      const head = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200 * 1024)}\r\n\r\n`);
      const pieces = [];
      for (let i = 0; i < head.length; i += 1400) pieces.push(['client', head.subarray(i, i + 1400)]);
      const { exchanges, stats } = http(pieces);
      assert.deepStrictEqual([exchanges.length, stats.malformed], [0, 1]);
    });

    it('an endless chunk-size line stops the stream, counted', function () {
      const start = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      const reply = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      const hex = Buffer.alloc(64 * 1024, 'f');
      const chunks = [['client', start], ['server', reply], ...Array.from({ length: 32 }, () => ['server', hex])];
      const { exchanges, stats } = http(chunks);
      assert.strictEqual(stats.malformed, 1);
      assert.deepStrictEqual(
        exchanges.map((e) => [e.path, e.status, e.incomplete]),
        [['/', 200, 'malformed']],
      );
    });

    it('an HPACK bomb is stopped as it decodes, counted', function () {
      // One 4000-byte header added to the dynamic table, then 15000 one-byte references to it: 60 MB decoded.
      const literal = Buffer.from([0x40, 1, 0x78, ...hpackInt(4000, 7, 0), ...Buffer.alloc(4000, 0x61)]);
      const block = Buffer.concat([Buffer.from([0x82, 0x84, 0x86, 0x41, 1, 0x78]), literal, Buffer.alloc(15000, 0xbe)]);
      const client = Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0)), frame(1, 0x5, 1, block)]);
      const before = process.memoryUsage().heapUsed;
      const { exchanges, stats } = http([['client', client]]);
      assert.deepStrictEqual([exchanges.length, stats.http2, stats.malformed], [0, 1, 1]);
      assert.ok(process.memoryUsage().heapUsed - before < 32 * 1024 * 1024);
    });

    it('an HTTP/2 frame that says it is 16 MB is not waited for', function () {
      const client = Buffer.concat([PREFACE, Buffer.from([0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1])]);
      const { stats } = http([['client', client]]);
      assert.strictEqual(stats.malformed, 1);
    });

    it('a DNS name whose compression pointer points at itself is counted and skipped', function () {
      const exchanges = [];
      const dns = new DnsParsers((ex) => exchanges.push(ex));
      const loop = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
      const flow = fakeStream().flow;
      const started = Date.now();
      dns.datagram(flow, 'client', loop, 0);
      assert.ok(Date.now() - started < 1000);
      assert.deepStrictEqual([dns.stats.malformed, exchanges.length], [1, 0]);
    });
  });

  describe('property tests', function () {
    this.timeout(120000);

    it('header views: any bytes, any link type, any offset and length', function () {
      const h = new HeaderView();
      const links = [...Object.values(LINKTYPE), 9999];
      const frames = corpus(100, 7);
      const arbitrary = fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom(...frames).chain((f) => fc.integer({ min: 0, max: f.length }).map((n) => f.subarray(0, n))),
      );
      fc.assert(
        fc.property(arbitrary, fc.constantFrom(...links), fc.integer({ min: -4, max: 300 }), (bytes, link, length) => {
          h.read(bytes, 0, length, link);
          JSON.stringify(h.toJSON());
          assert.ok(h.payloadOffset < 0 || h.payloadOffset + h.payloadLength <= bytes.length);
        }),
        { numRuns: RUNS * 10 },
      );
    });

    it('ClientHello: any bytes, whole or in pieces', function () {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (body, pieces) => {
          const hello = parseHello(body);
          assert.ok(hello === null || typeof hello.ja4 === 'string');
          const reader = new ClientHelloReader();
          for (const p of [Buffer.from([22, 3, 1]), ...pieces]) {
            const r = reader.push(p);
            assert.ok(r === 'more' || r === null || typeof r.ja4 === 'string');
          }
        }),
        { numRuns: RUNS * 3 },
      );
    });

    it('reassembly: segments in any order, duplicated, overlapping, with any ACKs: each byte once, bounded', function () {
      const data = Buffer.from(Array.from({ length: 4000 }, (_, i) => i & 0xff));
      const segment = fc.record({
        start: fc.integer({ min: 0, max: 3999 }),
        length: fc.integer({ min: 0, max: 600 }),
        ack: fc.boolean(),
        fin: fc.boolean(),
      });
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.array(segment, { maxLength: 60 }),
          fc.integer({ min: 100, max: 5000 }),
          (isn, segs, limit) => {
            const budget = { held: 0, limit: 1 << 30, droppedSegments: 0, droppedBytes: 0 };
            const got = [];
            let position = 0;
            const sink = {
              data: (b) => {
                got.push({ at: position, bytes: Buffer.from(b) });
                position += b.length;
              },
              hole: (size) => {
                assert.ok(size > 0);
                position += size;
              },
              end: () => {},
            };
            const r = new Reassembler(sink, budget, limit);
            r.segment(isn, true, false, new Uint8Array(0), 0);
            for (const s of segs) {
              const end = Math.min(data.length, s.start + s.length);
              r.segment((isn + 1 + s.start) >>> 0, false, s.fin && end === data.length, data.subarray(s.start, end), 0);
              if (s.ack) r.acknowledged((isn + 1 + s.start) >>> 0, 0);
              assert.ok(budget.held <= limit, `${budget.held} held, limit ${limit}`);
            }
            r.flush(0);
            assert.strictEqual(budget.held, 0);
            // Every byte delivered is the byte at that position, and positions only go forward.
            for (const { at, bytes } of got) assert.ok(bytes.equals(data.subarray(at, at + bytes.length)), `bytes at ${at}`);
          },
        ),
        { numRuns: RUNS * 3 },
      );
    });

    it('HTTP/1 and HTTP/2: valid conversations cut anywhere and mutated, and garbage', function () {
      const h1 = [
        [
          'client',
          Buffer.from(
            'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n',
          ),
        ],
        [
          'server',
          Buffer.from(
            'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\nrest',
          ),
        ],
      ];
      const block = Buffer.from([0x82, 0x84, 0x86, 0x41, 1, 0x78]);
      const h2 = [
        [
          'client',
          Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0)), frame(1, 0x4, 1, block), frame(0, 0x1, 1, Buffer.from('body'))]),
        ],
        [
          'server',
          Buffer.concat([frame(4, 0, 0, Buffer.alloc(0)), frame(1, 0x4, 1, Buffer.from([0x88])), frame(0, 0x1, 1, Buffer.from('ok'))]),
        ],
      ];
      const cut = (conversation) =>
        fc
          .tuple(
            fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
            fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
          )
          .map(([sizes, flips]) => {
            const out = [];
            for (const [from, bytes] of conversation) {
              const b = Buffer.from(bytes);
              for (const [at, v] of flips) b[at % b.length] = v;
              for (let i = 0, k = 0; i < b.length; i += sizes[k++ % sizes.length])
                out.push([from, b.subarray(i, i + sizes[k % sizes.length])]);
            }
            return out;
          });
      const garbage = fc.array(fc.tuple(fc.constantFrom('client', 'server'), fc.uint8Array({ minLength: 1, maxLength: 200 })), {
        maxLength: 10,
      });
      fc.assert(
        fc.property(fc.oneof(cut(h1), cut(h2), garbage), (chunks) => {
          const { exchanges } = http(chunks, { bodies: 16 });
          assert.ok(exchanges.length <= 10);
        }),
        { numRuns: RUNS * 3 },
      );
      // Unmutated and cut anywhere, every exchange is read as from whole chunks.
      const expected1 = [
        ['/a', 200, [100], undefined],
        ['/b', 101, undefined, 'x'],
      ];
      const expected2 = [['GET', '/', 200, 4, 2]];
      const unmutated = (conversation) =>
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }).map((sizes) => {
          const out = [];
          for (const [from, b] of conversation) {
            for (let i = 0, k = 0; i < b.length; k++) {
              out.push([from, b.subarray(i, i + sizes[k % sizes.length])]);
              i += sizes[k % sizes.length];
            }
          }
          return out;
        });
      fc.assert(
        fc.property(unmutated(h1), unmutated(h2), (c1, c2) => {
          assert.deepStrictEqual(
            http(c1).exchanges.map((e) => [e.path, e.status, e.informational, e.upgrade]),
            expected1,
          );
          assert.deepStrictEqual(
            http(c2).exchanges.map((e) => [e.method, e.path, e.status, e.request.bodyBytes, e.response.bodyBytes]),
            expected2,
          );
        }),
        { numRuns: RUNS },
      );
    });

    it('DNS: any datagram and any TCP stream of messages', function () {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }),
          fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 6 }),
          (datagrams, tcp) => {
            const dns = new DnsParsers(() => {});
            const stream = fakeStream();
            datagrams.forEach((d, i) => dns.datagram(stream.flow, i % 2 ? 'server' : 'client', d, i));
            tcp.forEach((d, i) => dns.data(stream, i % 2 ? 'server' : 'client', d, i));
            dns.close(stream);
            dns.end(stream.flow);
          },
        ),
        { numRuns: RUNS * 3 },
      );
    });

    it('a stream table over garbage packets of every link type', function () {
      const frames = corpus(200, 11);
      const table = new StreamTable(
        { data: () => {}, hole: () => {}, close: () => {} },
        { maxBufferedPerStream: 4096, maxBuffered: 16384 },
      );
      // Batches made of corpus frames are read through the same path as captures.
      const { buildBatch } = require('../../dist/batch-builder');
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...frames), { minLength: 1, maxLength: 30 }), (picked) => {
          const batch = buildBatch(
            picked.map((data, i) => ({
              data,
              wireLength: data.length,
              seconds: 1_700_000_000 + i,
              nanoseconds: 0,
              interfaceIndex: 1,
              direction: 'in',
              linkType: LINKTYPE.ETHERNET,
            })),
          );
          table.flows.addBatch(batch);
          assert.ok(table.stats.buffered <= 16384);
        }),
        { numRuns: RUNS },
      );
      table.flush();
      assert.strictEqual(table.stats.buffered, 0);
    });
  });
});
