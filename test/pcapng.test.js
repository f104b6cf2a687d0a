'use strict';
// The capture file writers, checked by real readers: tshark and tcpdump read every file
// written, and what they see (counts, lengths, nanosecond times, interface names,
// directions, HTTP inside upper-layer PDUs) must be what was captured or written.
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { PassThrough, Writable } = require('node:stream');
const { openCapturer, PcapngWriter, PcapWriter, TapwireError } = require('..');
const { requirePrivileges, requireTools } = require('./helpers/privileged');
const { createLinkWithSink, sendFromPeer, sendToPeer } = require('./helpers/netns');
const { captureWhile } = require('./helpers/capture');
const { pcapFile, pcapngFile, udpFrame, tsharkFields } = require('./helpers/files');

const PORT = 5101;

/** A bigint of ns since the epoch as tshark and tcpdump print it. */
const epoch = (ns) => `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;

/** tcpdump -r FILE: one "seconds.nanoseconds" per packet, and its exit status. */
function tcpdumpTimes(file) {
  const out = execFileSync('tcpdump', ['-r', file, '-nn', '-tt', '--time-stamp-precision=nano'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[0]);
}

function isError(code, pattern) {
  return (e) => {
    assert.ok(e instanceof TapwireError, `${e} is not a TapwireError`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

describe('capture files written from live captures', function () {
  let link;
  let dir;

  before(async function () {
    await requirePrivileges(this, ['python3', 'ip', 'tshark', 'tcpdump', 'capinfos']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-files-'));
    link = await createLinkWithSink(PORT);
  });

  after(function () {
    link?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Captures while `traffic` runs; returns the packets, the stats and the capturer. */
  async function capture(options, traffic) {
    const cap = await openCapturer(options);
    const result = await captureWhile(cap, traffic);
    return { ...result, cap, stats: cap.stats() };
  }

  const bothWays = async () => {
    await sendFromPeer(link, { port: PORT, count: 200, size: 80 });
    await sendToPeer(link, { port: PORT + 1, count: 100, size: 33 });
  };

  it('pcapng: tshark and tcpdump see every packet with its length, ns timestamp, interface name and direction', async function () {
    const { packets, batches, cap, stats } = await capture({ interfaces: [link.outer], filter: 'udp' }, bothWays);
    assert.equal(packets.length, 300);
    const file = path.join(dir, 'live.pcapng');
    const writer = new PcapngWriter(file, { filter: 'udp', source: cap });
    for (const batch of batches) writer.write(batch);
    await writer.close(stats);

    const seen = tsharkFields(file, [
      'frame.len',
      'frame.cap_len',
      'frame.interface_name',
      'frame.packet_flags_direction',
      'frame.time_epoch',
    ]);
    assert.deepEqual(
      seen.map((r) => [
        Number(r['frame.len']),
        Number(r['frame.cap_len']),
        r['frame.interface_name'],
        Number(r['frame.packet_flags_direction']),
        r['frame.time_epoch'],
      ]),
      packets.map((p) => [p.length, p.capturedLength, link.outer, p.direction === 'in' ? 1 : 2, epoch(p.timestampNs)]),
    );
    assert.equal(packets.filter((p) => p.direction === 'out').length, 100);
    assert.deepEqual(
      tcpdumpTimes(file),
      packets.map((p) => epoch(p.timestampNs)),
    );
    const info = execFileSync('capinfos', ['-I', file], { encoding: 'utf8' });
    assert.match(info, /Number of interfaces in file: 1/);
    assert.match(info, /Filter string = udp/);
    assert.match(info, /Time precision = nanoseconds \(9\)/);
    assert.match(info, /Number of stat entries = 1/);

    // A subset of each batch: only what this host sent.
    const outbound = path.join(dir, 'outbound.pcapng');
    const subset = new PcapngWriter(outbound, { source: cap });
    for (const batch of batches) subset.write(batch, (i) => batch.directionAt(i) === 'out');
    await subset.close();
    const out = tsharkFields(outbound, ['frame.packet_flags_direction', 'frame.time_epoch']);
    assert.deepEqual(
      out.map((r) => r['frame.time_epoch']),
      packets.filter((p) => p.direction === 'out').map((p) => epoch(p.timestampNs)),
    );
  });

  it('classic pcap: nanosecond magic, and tcpdump and tshark read the same packets and times', async function () {
    const { packets, batches } = await capture({ interfaces: [link.outer], filter: 'udp', snaplen: 60 }, bothWays);
    const file = path.join(dir, 'live.pcap');
    const writer = new PcapWriter(file, { snaplen: 60 });
    for (const batch of batches) writer.write(batch);
    await writer.close();
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.readUInt32LE(0), 0xa1b23c4d);
    assert.equal(bytes.readUInt32LE(16), 60, 'snaplen in the header');
    assert.equal(bytes.readUInt32LE(20), 1, 'Ethernet');
    assert.deepEqual(
      tcpdumpTimes(file),
      packets.map((p) => epoch(p.timestampNs)),
    );
    const seen = tsharkFields(file, ['frame.len', 'frame.cap_len']);
    assert.deepEqual(
      seen.map((r) => [Number(r['frame.len']), Number(r['frame.cap_len'])]),
      packets.map((p) => [p.length, 60]),
    );
  });

  it("'any': one interface description per interface, added as each first appears", async function () {
    const port = PORT + 2;
    const local = dgram.createSocket('udp4');
    await new Promise((resolve) => local.bind(port, '127.0.0.1', resolve));
    try {
      const { packets, batches, cap } = await capture({ filter: `udp port ${port}` }, async () => {
        await sendFromPeer(link, { port, count: 50, size: 20 });
        const client = dgram.createSocket('udp4');
        for (let i = 0; i < 30; i++) await new Promise((r) => client.send(Buffer.alloc(12), port, '127.0.0.1', r));
        client.close();
        await sendFromPeer(link, { port, count: 20, size: 20 });
      });
      const file = path.join(dir, 'any.pcapng');
      const writer = new PcapngWriter(file, { filter: `udp port ${port}`, source: cap });
      for (const batch of batches) writer.write(batch);
      await writer.close(cap.stats());

      const names = packets.map((p) => cap.interfaceName(p.interfaceIndex));
      assert.deepEqual([...new Set(names)], [link.outer, 'lo'], 'interfaces in order of first appearance');
      assert.equal(names.filter((n) => n === 'lo').length, 30, 'loopback shows each datagram once, as it arrives');
      const seen = tsharkFields(file, ['frame.interface_id', 'frame.interface_name', 'frame.packet_flags_direction', 'frame.len']);
      assert.deepEqual(
        seen.map((r) => [
          Number(r['frame.interface_id']),
          r['frame.interface_name'],
          Number(r['frame.packet_flags_direction']),
          Number(r['frame.len']),
        ]),
        packets.map((p, i) => [names[i] === link.outer ? 0 : 1, names[i], p.direction === 'in' ? 1 : 2, p.length]),
      );
      assert.match(execFileSync('capinfos', ['-I', file], { encoding: 'utf8' }), /Number of interfaces in file: 2/);
    } finally {
      local.close();
    }
  });

  it('round trip: what a replay of the file gives is what was captured; a filter in replay selects what it selects live', async function () {
    const filter = `udp port ${PORT} and greater 100`;
    const everything = await openCapturer({ interfaces: [link.outer] });
    // The same traffic, filtered in the kernel by a second capturer.
    const filtered = await openCapturer({ interfaces: [link.outer], filter });
    let trafficSent;
    const sent = new Promise((resolve) => (trafficSent = resolve));
    const reading = captureWhile(filtered, () => sent);
    const all = await captureWhile(everything, async () => {
      await sendFromPeer(link, { port: PORT, count: 100, size: 40 });
      await sendFromPeer(link, { port: PORT, count: 100, size: 140 });
      await sendToPeer(link, { port: PORT, count: 50, size: 200 });
      trafficSent();
    });
    const some = await reading;
    const file = path.join(dir, 'roundtrip.pcapng');
    const writer = new PcapngWriter(file, { source: everything });
    for (const batch of all.batches) writer.write(batch);
    await writer.close(everything.stats());

    const replayed = await openCapturer({ file });
    const back = [];
    for await (const batch of replayed) back.push(...batch);
    const describe = (p, cap) => [
      p.data.toString('hex'),
      p.length,
      p.capturedLength,
      p.timestampNs,
      p.direction,
      p.linkType,
      cap.interfaceName(p.interfaceIndex),
    ];
    assert.deepEqual(
      back.map((p) => describe(p, replayed)),
      all.packets.map((p) => describe(p, everything)),
    );
    assert.equal(replayed.stats().bytes, everything.stats().bytes);
    assert.equal(replayed.stats().packets, everything.stats().packets);

    const again = await openCapturer({ file, filter });
    const chosen = [];
    for await (const batch of again) chosen.push(...batch);
    assert.equal(some.packets.length, 150);
    assert.deepEqual(
      chosen.map((p) => p.data.toString('hex')),
      some.packets.map((p) => p.data.toString('hex')),
    );
    assert.equal(again.stats().filtered, all.packets.length - 150);
  });
});

describe('capture file writers', function () {
  let dir;
  const BASE = 1_700_000_000;
  const frames = Array.from({ length: 4 }, (_, i) => udpFrame(Buffer.alloc(20 + i, i)));

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-writers-'));
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Batches of `frames`, by replaying a file made of them. */
  async function batchesOf(linkType = 1) {
    const source = path.join(dir, `frames-${linkType}.pcap`);
    fs.writeFileSync(source, pcapFile({ linkType, packets: frames.map((data, i) => ({ seconds: BASE + i, fraction: i, data })) }));
    const batches = [];
    for await (const batch of await openCapturer({ file: source })) batches.push(batch);
    return batches;
  }

  it('upper-layer PDUs: tshark dissects the HTTP inside, with the addresses and ports given', async function () {
    requireTools(this, ['tshark', 'tcpdump']);
    const file = path.join(dir, 'http.pcapng');
    const writer = new PcapngWriter(file);
    const t0 = BigInt(BASE) * 1_000_000_000n + 123_456_789n;
    writer.writeUpperPdu({
      timestampNs: t0,
      protocol: 'http',
      srcAddr: '198.18.0.1',
      dstAddr: '198.18.0.2',
      srcPort: 40000,
      dstPort: 8080,
      direction: 'out',
      data: Buffer.from('GET /api/items?id=7 HTTP/1.1\r\nHost: shop.test\r\nUser-Agent: tapwire-test\r\n\r\n'),
    });
    writer.writeUpperPdu({
      timestampNs: t0 + 1000n,
      protocol: 'http',
      srcAddr: '2001:db8::2',
      dstAddr: '2001:db8::1',
      srcPort: 443,
      dstPort: 51000,
      data: Buffer.from('POST /v1/login HTTP/1.1\r\nHost: api.test\r\nContent-Length: 2\r\n\r\nhi'),
    });
    await writer.close();
    const requests = tsharkFields(
      file,
      [
        'http.request.method',
        'http.request.uri',
        'http.host',
        'exported_pdu.ipv4_src',
        'exported_pdu.ipv4_dst',
        'exported_pdu.ipv6_src',
        'exported_pdu.ipv6_dst',
        'exported_pdu.src_port',
        'exported_pdu.dst_port',
        'frame.interface_name',
        'frame.packet_flags_direction',
        'frame.time_epoch',
      ],
      ['-Y', 'http.request'],
    );
    assert.deepEqual(requests, [
      {
        'http.request.method': 'GET',
        'http.request.uri': '/api/items?id=7',
        'http.host': 'shop.test',
        'exported_pdu.ipv4_src': '198.18.0.1',
        'exported_pdu.ipv4_dst': '198.18.0.2',
        'exported_pdu.ipv6_src': '',
        'exported_pdu.ipv6_dst': '',
        'exported_pdu.src_port': '40000',
        'exported_pdu.dst_port': '8080',
        'frame.interface_name': 'upper-pdu',
        'frame.packet_flags_direction': '0x00000002',
        'frame.time_epoch': epoch(t0),
      },
      {
        'http.request.method': 'POST',
        'http.request.uri': '/v1/login',
        'http.host': 'api.test',
        'exported_pdu.ipv4_src': '',
        'exported_pdu.ipv4_dst': '',
        'exported_pdu.ipv6_src': '2001:db8::2',
        'exported_pdu.ipv6_dst': '2001:db8::1',
        'exported_pdu.src_port': '443',
        'exported_pdu.dst_port': '51000',
        'frame.interface_name': 'upper-pdu',
        'frame.packet_flags_direction': '0x00000001',
        'frame.time_epoch': epoch(t0 + 1000n),
      },
    ]);
    // tcpdump cannot dissect them, but reads the file: both packets, at their times.
    assert.deepEqual(
      tcpdumpTimes(file).filter((field) => /^\d+\.\d{9}$/.test(field)),
      [epoch(t0), epoch(t0 + 1000n)],
    );
  });

  it('keeps an upper-layer PDU larger than Wireshark reads to 262144 bytes, with its full length', async function () {
    requireTools(this, ['tshark']);
    const file = path.join(dir, 'large-pdu.pcapng');
    const writer = new PcapngWriter(file);
    const body = Buffer.alloc(300 * 1024, 'a');
    writer.writeUpperPdu({ timestampNs: 1n, protocol: 'http', data: Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), body]) });
    await writer.close();
    const [frame] = tsharkFields(file, ['frame.cap_len', 'frame.len']);
    assert.equal(Number(frame['frame.cap_len']), 262144);
    assert.ok(Number(frame['frame.len']) > 300 * 1024, frame['frame.len']);
  });

  it('records the capture’s drops in the first interface’s statistics block', async function () {
    const file = path.join(dir, 'drops.pcapng');
    const writer = new PcapngWriter(file);
    for (const batch of await batchesOf()) writer.write(batch);
    await writer.close({ drops: { kernel: 2, ring: 3, userspace: 4 } });
    const replayed = await openCapturer({ file });
    for await (const _ of replayed);
    assert.equal(replayed.stats().drops.kernel, 9);
  });

  it('streams to any Writable, leaving it open when asked', async function () {
    const chunks = [];
    const stream = new PassThrough();
    stream.on('data', (c) => chunks.push(c));
    const writer = new PcapWriter(stream, { end: false });
    const batches = await batchesOf();
    for (const batch of batches) assert.equal(writer.write(batch), true);
    await writer.drained();
    await writer.close();
    assert.equal(stream.writableEnded, false);
    const bytes = Buffer.concat(chunks);
    assert.equal(bytes.length, 24 + frames.reduce((n, f) => n + 16 + f.length, 0), 'one header, one record per packet');
    assert.equal(bytes.readUInt32LE(0), 0xa1b23c4d);
  });

  it('an empty capture is still a file tcpdump and tshark read', async function () {
    requireTools(this, ['tcpdump', 'tshark']);
    for (const [Writer, name] of [
      [PcapWriter, 'empty.pcap'],
      [PcapngWriter, 'empty.pcapng'],
    ]) {
      const file = path.join(dir, name);
      await new Writer(file).close();
      assert.deepEqual(tcpdumpTimes(file), [], name);
      assert.deepEqual(tsharkFields(file, ['frame.len']), [], name);
    }
  });

  it('names interfaces by its source only: a replay names them as its file did; no source, no names (tshark: unknown)', async function () {
    requireTools(this, ['tshark']);
    // Interface 1, as this host's loopback is: a writer that guessed from the host would name it lo.
    const original = path.join(dir, 'named.pcapng');
    const blocks = [
      { section: true },
      { iface: { name: 'tw-file0' } },
      { iface: { name: 'tw-file1' } },
      { epb: { iface: 1, ts: 1n, data: frames[0] } },
    ];
    fs.writeFileSync(original, pcapngFile({ blocks }));
    for (const [name, withSource, expected] of [
      ['sourced.pcapng', true, 'tw-file1'],
      ['unsourced.pcapng', false, 'unknown'],
    ]) {
      const replay = await openCapturer({ file: original });
      const file = path.join(dir, name);
      const writer = new PcapngWriter(file, withSource ? { source: replay } : {});
      for await (const batch of replay) writer.write(batch);
      await writer.close();
      assert.deepEqual(tsharkFields(file, ['frame.interface_name']), [{ 'frame.interface_name': expected }], name);
    }
  });

  it('reports bad input and failures as TapwireErrors with stable codes', async function () {
    const writer = new PcapngWriter(path.join(dir, 'errors.pcapng'));
    const pdu = { timestampNs: 1n, protocol: 'http', data: Buffer.from('x') };
    assert.throws(
      () => writer.writeUpperPdu({ ...pdu, srcAddr: '300.1.1.1' }),
      isError('ERR_INVALID_OPTION', /srcAddr must be an IPv4 or IPv6 address/),
    );
    assert.throws(
      () => writer.writeUpperPdu({ ...pdu, srcAddr: '10.0.0.1', dstAddr: '::1' }),
      isError('ERR_INVALID_OPTION', /one address family/),
    );
    assert.throws(() => writer.writeUpperPdu({ ...pdu, dstPort: 70000 }), isError('ERR_INVALID_OPTION', /dstPort/));
    assert.throws(() => writer.writeUpperPdu({ ...pdu, protocol: '' }), isError('ERR_INVALID_OPTION', /protocol/));
    assert.throws(() => writer.writeUpperPdu({ ...pdu, timestampNs: 5 }), isError('ERR_INVALID_OPTION', /timestampNs/));
    await writer.close();
    assert.throws(() => writer.writeUpperPdu(pdu), isError('ERR_CLOSED'));

    assert.throws(
      () => new PcapngWriter(path.join(dir, 'no', 'such', 'dir.pcapng')),
      (e) => isError('ERR_FILE', /no such file or directory/)(e) && e.errno === os.constants.errno.ENOENT,
    );

    const mixed = new PcapWriter(path.join(dir, 'mixed.pcap'));
    mixed.write((await batchesOf(1))[0]);
    const rawIp = (await batchesOf(101))[0];
    assert.throws(() => mixed.write(rawIp), isError('ERR_FILE', /one link type.*write pcapng instead/));
    await mixed.close();

    const failing = new Writable({
      write: (_chunk, _enc, cb) => cb(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 })),
    });
    const full = new PcapngWriter(failing);
    await assert.rejects(full.close(), isError('ERR_FILE', /no space left on device \(ENOSPC\)/));
  });
});
