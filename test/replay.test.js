'use strict';
// openCapturer({ file }): capture files replayed through the Capturer interface, with
// no privileges. Files come from hand-built layouts (both byte orders, every timestamp
// resolution), from Wireshark's editcap, and from tapwire's own writer; tshark and
// tcpdump read the same files and must agree.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const { openCapturer, Batch, PcapngWriter, TapwireError } = require('..');
const { requireTools } = require('./helpers/privileged');
const { pcapFile, pcapngFile, udpFrame, tsharkFields, scratchFiles } = require('./helpers/files');
const { readPcap } = require('./helpers/tools');

async function replay(options) {
  const cap = await openCapturer(options);
  const packets = [];
  for await (const batch of cap) packets.push(...batch);
  return { cap, packets };
}

function rejectsWith(promise, code, pattern) {
  return assert.rejects(promise, (e) => {
    assert.ok(e instanceof TapwireError, `${e} is not a TapwireError`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

const BASE = 1_700_000_000;
const frames = Array.from({ length: 6 }, (_, i) => udpFrame(Buffer.alloc(10 + i * 7, i), { dport: 5001 + (i % 3) }));
const hex = (packets) => packets.map((p) => p.data.toString('hex'));

describe('replaying capture files: openCapturer({ file })', function () {
  const file = scratchFiles('tw-replay-');

  for (const little of [true, false]) {
    for (const nanoseconds of [false, true]) {
      it(`reads classic pcap, ${little ? 'little' : 'big'}-endian, ${nanoseconds ? 'nano' : 'micro'}second timestamps`, async function () {
        requireTools(this, ['tshark']);
        const fraction = (i) => (nanoseconds ? 123_456_789 + i : 654_321 + i);
        const name = file(
          `classic-${little}-${nanoseconds}.pcap`,
          pcapFile({ little, nanoseconds, packets: frames.map((data, i) => ({ seconds: BASE + i, fraction: fraction(i), data })) }),
        );
        const { cap, packets } = await replay({ file: name });
        assert.equal(cap.backend, 'file');
        assert.equal(cap.selection.format, 'pcap');
        assert.deepEqual(hex(packets), hex(frames.map((data) => ({ data }))));
        const expected = frames.map((_, i) => BigInt(BASE + i) * 1_000_000_000n + BigInt(fraction(i) * (nanoseconds ? 1 : 1000)));
        assert.deepEqual(
          packets.map((p) => p.timestampNs),
          expected,
        );
        for (const p of packets) {
          assert.equal(p.interfaceIndex, 0);
          assert.equal(p.direction, 'in');
          assert.equal(p.linkType, 1);
          assert.equal(p.length, p.capturedLength);
        }
        // tshark reads the same times from the same bytes.
        const times = tsharkFields(name, ['frame.time_epoch']).map((r) => r['frame.time_epoch']);
        assert.deepEqual(
          times,
          expected.map((ns) => `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`),
        );
      });
    }
  }

  for (const little of [true, false]) {
    it(`reads pcapng, ${little ? 'little' : 'big'}-endian: if_tsresol, direction flags, simple packets, statistics, unknown blocks`, async function () {
      requireTools(this, ['tshark']);
      const name = file(
        `blocks-${little}.pcapng`,
        pcapngFile({
          little,
          blocks: [
            { section: true },
            { iface: { name: 'eth-us' } }, // default resolution: microseconds
            { iface: { name: 'eth-ns', tsresol: 9 } },
            { iface: { name: 'eth-bin', tsresol: 0x80 | 20 } }, // 2^-20 s
            { unknown: 0x40000001 }, // local use: readers skip it
            { epb: { iface: 0, ts: BigInt(BASE) * 1_000_000n + 250_001n, data: frames[0], flags: 1 } },
            { epb: { iface: 1, ts: BigInt(BASE) * 1_000_000_000n + 999_999_999n, data: frames[1], flags: 2 } },
            { epb: { iface: 2, ts: (BigInt(BASE) << 20n) + 786_432n, data: frames[2].subarray(0, 40), length: frames[2].length } },
            { spb: { data: frames[3] } },
            { isb: { iface: 1, drops: 3 } },
            { isb: { iface: 2, drops: 4 } },
          ],
        }),
      );
      const { cap, packets } = await replay({ file: name });
      assert.equal(cap.selection.format, 'pcapng');
      assert.deepEqual(
        packets.map((p) => [p.timestampNs, p.interfaceIndex, cap.interfaceName(p.interfaceIndex), p.direction, p.length, p.capturedLength]),
        [
          [BigInt(BASE) * 1_000_000_000n + 250_001_000n, 0, 'eth-us', 'in', frames[0].length, frames[0].length],
          [BigInt(BASE) * 1_000_000_000n + 999_999_999n, 1, 'eth-ns', 'out', frames[1].length, frames[1].length],
          [BigInt(BASE) * 1_000_000_000n + 750_000_000n, 2, 'eth-bin', 'in', frames[2].length, 40],
          [0n, 0, 'eth-us', 'in', frames[3].length, frames[3].length],
        ],
      );
      assert.deepEqual(
        hex(packets),
        [frames[0], frames[1], frames[2].subarray(0, 40), frames[3]].map((b) => b.toString('hex')),
      );
      assert.equal(cap.stats().drops.kernel, 7, 'the drops the statistics blocks recorded');
      const seen = tsharkFields(name, ['frame.len', 'frame.cap_len', 'frame.interface_name']);
      assert.deepEqual(
        seen.map((r) => [Number(r['frame.len']), Number(r['frame.cap_len']), r['frame.interface_name']]),
        packets.map((p) => [p.length, p.capturedLength, cap.interfaceName(p.interfaceIndex)]),
      );
    });
  }

  it('numbers interfaces across sections, each section in its own byte order', async function () {
    const first = pcapngFile({
      little: true,
      blocks: [{ section: true }, { iface: { name: 'a' } }, { epb: { iface: 0, ts: 1n, data: frames[0] } }],
    });
    const second = pcapngFile({
      little: false,
      blocks: [{ section: true }, { iface: { name: 'b', linkType: 101 } }, { epb: { iface: 0, ts: 2n, data: frames[1].subarray(14) } }],
    });
    const { cap, packets } = await replay({ file: file('sections.pcapng', Buffer.concat([first, second])) });
    assert.deepEqual(
      packets.map((p) => [p.interfaceIndex, cap.interfaceName(p.interfaceIndex), p.linkType, p.timestampNs]),
      [
        [0, 'a', 1, 1000n],
        [1, 'b', 101, 2000n],
      ],
    );
  });

  it('reads what editcap writes (pcapng, microsecond and nanosecond pcap), as tshark does', async function () {
    requireTools(this, ['editcap', 'tshark']);
    const source = file(
      'editcap-source.pcapng',
      pcapngFile({
        blocks: [
          { section: true },
          { iface: { name: 'src0', tsresol: 9 } },
          ...frames.map((data, i) => ({ epb: { iface: 0, ts: BigInt(BASE + i) * 1_000_000_000n + BigInt(i * 1111), data } })),
        ],
      }),
    );
    for (const format of ['pcapng', 'pcap', 'nsecpcap']) {
      const converted = file(`editcap.${format}`);
      execFileSync('editcap', ['-F', format, source, converted]);
      const { packets } = await replay({ file: converted });
      const theirs = tsharkFields(converted, ['frame.len', 'frame.time_epoch']);
      assert.equal(packets.length, frames.length, format);
      assert.deepEqual(
        packets.map((p) => [
          String(p.length),
          `${p.timestampNs / 1_000_000_000n}.${String(p.timestampNs % 1_000_000_000n).padStart(9, '0')}`,
        ]),
        theirs.map((r) => [r['frame.len'], r['frame.time_epoch']]),
        format,
      );
      assert.deepEqual(
        hex(packets),
        frames.map((f) => f.toString('hex')),
        format,
      );
    }
  });

  const filters = ['udp port 5002', 'udp and greater 60', 'dst port 5001 or dst port 5003', 'not udp', 'udp[8] == 4'];
  for (const filter of filters) {
    it(`filters exactly as tcpdump -r does: ${filter}`, async function () {
      requireTools(this, ['tcpdump']);
      const name = file(`filter.pcap`, pcapFile({ packets: frames.map((data, i) => ({ seconds: BASE, fraction: i, data })) }));
      const { cap, packets } = await replay({ file: name, filter });
      const out = file('filtered-by-tcpdump.pcap');
      execFileSync('tcpdump', ['-r', name, '-w', out, filter], { stdio: 'ignore' });
      const reference = readPcap(fs.readFileSync(out)).map((p) => p.data.toString('hex'));
      assert.deepEqual(hex(packets), reference);
      assert.equal(cap.stats().filtered, frames.length - reference.length);
      assert.equal(cap.stats().packets, reference.length);
    });
  }

  it('cuts packets to snaplen, keeping the wire length', async function () {
    const name = file('snap.pcap', pcapFile({ packets: frames.map((data, i) => ({ seconds: BASE, fraction: i, data })) }));
    for (const filter of ['', 'udp']) {
      const { packets } = await replay({ file: name, snaplen: 20, filter });
      assert.equal(packets.length, frames.length);
      packets.forEach((p, i) => {
        assert.equal(p.capturedLength, 20);
        assert.equal(p.length, frames[i].length);
        assert.deepEqual(p.data, frames[i].subarray(0, 20));
      });
    }
  });

  it('matches nothing on a link the filter cannot apply to, and counts it', async function () {
    // Ethernet frames and an upper-layer PDU (link type 252) in one file.
    const frameFile = file('frames.pcap', pcapFile({ packets: frames.map((data, i) => ({ seconds: BASE, fraction: i, data })) }));
    const name = file('mixed.pcapng');
    const writer = new PcapngWriter(name);
    for await (const batch of await openCapturer({ file: frameFile })) writer.write(batch);
    writer.writeUpperPdu({ timestampNs: 5n, protocol: 'http', data: Buffer.from('GET / HTTP/1.1\r\n\r\n') });
    await writer.close();
    const { cap, packets } = await replay({ file: name, filter: 'udp' });
    assert.deepEqual(
      hex(packets),
      frames.map((f) => f.toString('hex')),
    );
    assert.equal(cap.stats().filtered, 1, 'the PDU, which udp cannot describe');
    // A filter that applies to none of a file's links is an error, as on a live interface.
    const pduOnly = file('pdu-only.pcapng');
    const pduWriter = new PcapngWriter(pduOnly);
    pduWriter.writeUpperPdu({ timestampNs: 5n, protocol: 'http', data: Buffer.from('GET / HTTP/1.1\r\n\r\n') });
    await pduWriter.close();
    await rejectsWith(openCapturer({ file: pduOnly, filter: 'udp' }), 'ERR_BAD_FILTER');
  });

  it('offers every way of reading a live capture: Batch objects, packets(), events, a Readable', async function () {
    const name = file('views.pcap', pcapFile({ packets: frames.map((data, i) => ({ seconds: BASE, fraction: i, data })) }));
    const cap = await openCapturer({ file: name });
    const batches = [];
    let fromEvents = 0;
    cap.on('packet', () => fromEvents++);
    for await (const batch of cap) batches.push(batch);
    assert.ok(batches.every((b) => b instanceof Batch));
    assert.equal(batches[0].secondsAt(0), BASE);
    assert.equal(batches[0].interfaceIndexAt(0), 0);
    assert.equal(fromEvents, frames.length);
    assert.equal(cap.closed, true, 'the capturer closes itself at the end of the file');

    const viaPackets = [];
    for await (const p of (await openCapturer({ file: name })).packets()) viaPackets.push(p.length);
    assert.deepEqual(
      viaPackets,
      frames.map((f) => f.length),
    );

    const streamed = [];
    const stream = (await openCapturer({ file: name })).readable('packets');
    for await (const p of stream) streamed.push(p.length);
    assert.deepEqual(streamed, viaPackets);
  });

  it('holds back for a slow reader (highWaterMark) and loses nothing', async function () {
    const count = 30000; // about 2.5 MiB: several chunks, several batches
    const packets = Array.from({ length: count }, (_, i) => {
      const data = udpFrame(Buffer.alloc(40));
      data.writeUInt32BE(i, data.length - 4);
      return { seconds: BASE, fraction: i, data };
    });
    const name = file('big.pcap', pcapFile({ packets }));
    const cap = await openCapturer({ file: name, highWaterMark: 0 });
    let next = 0;
    let batches = 0;
    for await (const batch of cap) {
      batches++;
      await new Promise((r) => setTimeout(r, 20));
      for (const p of batch) assert.equal(p.data.readUInt32BE(p.data.length - 4), next++);
    }
    assert.equal(next, count);
    assert.ok(batches > 1, `${batches} batches`);
  });

  it('stops early on close() and on an AbortSignal', async function () {
    const name = file('abort.pcap', pcapFile({ packets: frames.map((data, i) => ({ seconds: BASE, fraction: i, data })) }));
    const cap = await openCapturer({ file: name });
    await cap.close();
    assert.equal(cap.closed, true);
    const controller = new AbortController();
    const aborted = await openCapturer({ file: name, signal: controller.signal });
    controller.abort();
    for await (const _ of aborted);
    assert.equal(aborted.closed, true);
    await assert.rejects(openCapturer({ file: name, signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('rejects a missing file with ERR_FILE, naming the path', async function () {
    const missing = file('nope.pcapng');
    await rejectsWith(openCapturer({ file: missing }), 'ERR_FILE', /cannot open .*nope\.pcapng: no such file or directory \(ENOENT\)/);
    await assert.rejects(openCapturer({ file: missing }), (e) => e.path === missing && e.errno === os.constants.errno.ENOENT);
  });

  it('rejects a file that is not a capture, or is empty, at offset 0', async function () {
    await rejectsWith(openCapturer({ file: file('text.txt', 'hello world, not a capture') }), 'ERR_FILE', /not a pcap or pcapng file/);
    await rejectsWith(openCapturer({ file: file('empty.pcap', '') }), 'ERR_FILE', /is empty/);
    await assert.rejects(openCapturer({ file: file('text.txt') }), { offset: 0 });
  });

  it('rejects a file damaged before its first packet, naming the offset', async function () {
    const good = pcapngFile({ blocks: [{ section: true }, { iface: {} }, { epb: { iface: 0, ts: 1n, data: frames[0] } }] });
    const shbLength = good.readUInt32LE(4);
    const damaged = Buffer.from(good);
    damaged.writeUInt32LE(13, shbLength + 4); // the interface block's length
    await rejectsWith(
      openCapturer({ file: file('bad-idb.pcapng', damaged) }),
      'ERR_FILE',
      new RegExp(`damaged at byte offset ${shbLength}:`),
    );
    const noInterface = pcapngFile({ blocks: [{ section: true }, { epb: { iface: 0, ts: 1n, data: frames[0] } }] });
    await rejectsWith(openCapturer({ file: file('no-idb.pcapng', noInterface) }), 'ERR_FILE', /interface 0, which was not described/);
  });

  it('keeps a pcap fraction that carries the seconds past 32 bits as the file holds it, instead of wrapping it', async function () {
    // Found by the readers' fuzzer (test/fuzz/readers.js).
    const late = pcapFile({ packets: [{ seconds: 0xffffffff, fraction: 2_000_000, data: frames[0] }] });
    const { packets } = await replay({ file: file('late.pcap', late) });
    assert.equal(packets[0].timestampNs, 0xffffffffn * 1_000_000_000n + 2_000_000_000n);
    const cap = await openCapturer({ file: file('late.pcap') });
    for await (const batch of cap) assert.deepEqual([batch.secondsAt(0), batch.nanosecondsAt(0)], [0xffffffff, 2_000_000_000]);
  });

  it('delivers every packet before damage, then the loop throws ERR_FILE with the offset', async function () {
    // A capture cut off mid-record, as when its writer was killed.
    const whole = pcapFile({ packets: frames.map((data, i) => ({ seconds: BASE, fraction: i, data })) });
    const cut = whole.subarray(0, whole.length - 5);
    const lastRecord = whole.length - (16 + frames.at(-1).length);
    const cap = await openCapturer({ file: file('cut.pcap', cut) });
    const seen = [];
    await assert.rejects(
      (async () => {
        for await (const batch of cap) seen.push(...batch);
      })(),
      (e) => e.code === 'ERR_FILE' && e.offset === lastRecord && /ends inside a block/.test(e.message),
    );
    assert.equal(seen.length, frames.length - 1);

    // Damage past the first read (1 MiB): found while streaming, after the packets before it.
    const many = Array.from({ length: 20000 }, (_, i) => ({ seconds: BASE, fraction: i, data: frames[i % frames.length] }));
    const big = pcapFile({ packets: many });
    const at = big.length - 16 - frames[(many.length - 1) % frames.length].length;
    big.writeUInt32LE(0x7fffffff, at + 8); // the last record's captured length
    const streamed = await openCapturer({ file: file('damaged-late.pcap', big) });
    let count = 0;
    await assert.rejects(
      (async () => {
        for await (const batch of streamed) count += batch.length;
      })(),
      (e) => e.code === 'ERR_FILE' && e.offset === at,
    );
    assert.equal(count, many.length - 1);
  });

  it('rejects options that need a live capture, and bad filters', async function () {
    const name = file('opts.pcap', pcapFile({ packets: [{ seconds: BASE, fraction: 0, data: frames[0] }] }));
    for (const extra of [
      { interfaces: ['lo'] },
      { backend: 'raw-socket' },
      { tls: 'auto' },
      { promiscuous: true },
      { bufferSize: 1 << 20 },
      { batchTimeout: 5 },
    ]) {
      await rejectsWith(
        openCapturer({ file: name, ...extra }),
        'ERR_INVALID_OPTION',
        new RegExp(`${Object.keys(extra)[0]} cannot be used with file`),
      );
    }
    await rejectsWith(openCapturer({ file: 42 }), 'ERR_INVALID_OPTION', /file must be the path/);
    await rejectsWith(openCapturer({ file: name, snaplen: 0 }), 'ERR_INVALID_OPTION', /snaplen/);
    await rejectsWith(openCapturer({ file: name, bogus: 1 }), 'ERR_INVALID_OPTION', /unknown option "bogus"/);
    await rejectsWith(openCapturer({ file: name, filter: 'udp prt 53' }), 'ERR_BAD_FILTER', /syntax error/);
  });

  it('reports what it is: backend "file", no probe, TLS off with a reason', async function () {
    const name = file('shape.pcap', pcapFile({ packets: [] }));
    const { cap, packets } = await replay({ file: name });
    assert.equal(packets.length, 0);
    assert.equal(cap.backend, 'file');
    assert.deepEqual(Object.keys(cap.selection).sort(), ['backend', 'file', 'format', 'reasons', 'tls']);
    assert.equal(cap.selection.file, name);
    assert.equal(cap.selection.tls.active, false);
    assert.deepEqual(cap.stats(), { packets: 0, bytes: 0, drops: { kernel: 0, ring: 0, userspace: 0 }, filtered: 0 });
  });
});
