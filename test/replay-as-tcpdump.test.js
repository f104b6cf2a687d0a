'use strict';
// Replay reads odd files the way tcpdump (libpcap) reads them: each class of odd record
// is a small file made here, read by `tcpdump -r` (and tshark where it reads the file)
// in the same test, and compared record by record: time, lengths, bytes, filter verdicts.
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { openCapturer, PcapngWriter, PcapWriter } = require('..');
const { requireTools } = require('./helpers/privileged');
const { pcapFile, pcapngFile, udpFrame, tsharkFields, scratchFiles } = require('./helpers/files');
const { tcpdumpReads, replayReads, difference, packetLines } = require('./helpers/as-tcpdump');
const { rng } = require('./helpers/corpus');

const BASE = 1_700_000_000;
const frames = Array.from({ length: 5 }, (_, i) => udpFrame(Buffer.alloc(20 + i * 30, i + 1), { dport: 5001 + i }));

/** Asserts that tcpdump and the replay read `file` alike (and returns both readings). */
async function assertReadsAsTcpdump(file, options = {}) {
  const theirs = tcpdumpReads(file, options);
  const ours = await replayReads(file, options);
  assert.equal(difference(theirs, ours), null, `${path.basename(file)} ${JSON.stringify(options)}: tcpdump ${theirs.error ?? 'read it'}`);
  return { theirs, ours };
}

async function replay(options) {
  const cap = await openCapturer(options);
  const packets = [];
  for await (const batch of cap) for (let i = 0; i < batch.length; i++) packets.push({ batch, i, packet: batch.at(i) });
  return packets;
}

/** An IPv6/UDP packet (no link header). */
function ip6Packet(payload, { src = '2001:db8::1', dst = '2001:db8::2' } = {}) {
  const address = (a) => {
    const [head, tail = ''] = a.split('::');
    const words = (s) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
    const all = [...words(head), ...Array(8 - words(head).length - words(tail).length).fill(0), ...words(tail)];
    const b = Buffer.alloc(16);
    all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
    return b;
  };
  const header = Buffer.alloc(40);
  header[0] = 0x60;
  header.writeUInt16BE(8 + payload.length, 4);
  header[6] = 17;
  header[7] = 64;
  address(src).copy(header, 8);
  address(dst).copy(header, 24);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(40000, 0);
  udp.writeUInt16BE(5001, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([header, udp, payload]);
}

describe('replay reads odd files as tcpdump reads them', function () {
  const file = scratchFiles('tw-as-tcpdump-');

  beforeEach(function () {
    requireTools(this, ['tcpdump', 'tshark']);
  });

  describe('records longer than the file allows', function () {
    it('cuts a record longer than the snapshot length to it and skips the rest, keeping the original length', async function () {
      for (const little of [true, false]) {
        const name = file(
          `snap-${little}.pcap`,
          pcapFile({ little, snaplen: 46, packets: frames.map((data, i) => ({ seconds: BASE, fraction: i, data })) }),
        );
        const { ours } = await assertReadsAsTcpdump(name);
        assert.deepEqual(
          ours.records.map((r) => [r.caplen, r.length]),
          frames.map((f) => [Math.min(46, f.length), f.length]),
        );
        assert.deepEqual(
          ours.records.map((r) => r.data.toString('hex')),
          frames.map((f) => f.subarray(0, 46).toString('hex')),
        );
        // tshark does not cut them (docs/files.md): it shows every byte the record holds.
        assert.deepEqual(
          tsharkFields(name, ['frame.cap_len', 'frame.len']).map((r) => [Number(r['frame.cap_len']), Number(r['frame.len'])]),
          frames.map((f) => [f.length, f.length]),
        );
      }
    });

    it("stops at a record longer than its link type's maximum, after the records before it", async function () {
      const huge = Buffer.concat([frames[0], Buffer.alloc(262145 - frames[0].length)]);
      // No snapshot length (0): the link type's maximum, 262144 for Ethernet, stands.
      const packets = [
        { seconds: BASE, fraction: 0, data: frames[0] },
        { seconds: BASE, fraction: 1, data: huge },
        { seconds: BASE, fraction: 2, data: frames[1] },
      ];
      const { theirs, ours } = await assertReadsAsTcpdump(file('huge.pcap', pcapFile({ snaplen: 0, packets })));
      assert.match(theirs.error, /invalid packet capture length 262145/);
      const offset = 24 + 16 + frames[0].length;
      assert.match(ours.error, new RegExp(`^ERR_FILE: .*damaged at byte offset ${offset}: a record claims 262145 captured bytes`));
      assert.equal(ours.records.length, 1);
    });

    it('refuses a pcapng packet longer than its interface snapshot length, as libpcap does', async function () {
      const name = file(
        'epb-over-snaplen.pcapng',
        pcapngFile({
          blocks: [
            { section: true },
            { iface: { snaplen: 64 } },
            { epb: { iface: 0, ts: 1n, data: frames[0] } },
            { epb: { iface: 0, ts: 2n, data: frames[3] } },
          ],
        }),
      );
      const { ours } = await assertReadsAsTcpdump(name);
      assert.equal(ours.records.length, 1);
      assert.match(ours.error, /longer than its interface's snapshot length \(64\)/);
    });
  });

  describe('the pcap variants libpcap reads', function () {
    it('reads captured and original length the other way round in pcap 2.0-2.2 and 543.0, and either way in 2.3', async function () {
      const cut = (data, i) => ({ seconds: BASE, fraction: i, data: data.subarray(0, 50), length: data.length });
      for (const [version, swap] of [
        [[2, 2], () => true],
        [[543, 0], () => true],
        [[2, 3], (i) => i % 2 === 0], // some 2.3 files have the new order, some the old
        [[2, 4], () => false],
      ]) {
        const packets = frames.map((data, i) => ({ ...cut(data, i), swapLengths: swap(i) }));
        const { ours } = await assertReadsAsTcpdump(file(`v${version.join('.')}.pcap`, pcapFile({ version, packets })));
        assert.deepEqual(
          ours.records.map((r) => [r.caplen, r.length]),
          frames.map((f) => [Math.min(50, f.length), f.length]),
          version.join('.'),
        );
      }
    });

    it("reads Alexey Kuznetzov's modified format (longer record headers)", async function () {
      for (const little of [true, false]) {
        const packets = frames.map((data, i) => ({ seconds: BASE + i, fraction: 999_999 - i, data, ifindex: i }));
        const { ours } = await assertReadsAsTcpdump(file(`kuznetzov-${little}.pcap`, pcapFile({ little, magic: 0xa1b2cd34, packets })));
        assert.equal(ours.records.length, frames.length);
      }
    });

    it('refuses what libpcap refuses: archaic and unknown versions, reserved link type bits, pcapng 1.1', async function () {
      const one = [{ seconds: BASE, fraction: 0, data: frames[0] }];
      const refused = {
        'v1.0.pcap': pcapFile({ version: [1, 0], packets: one }),
        'v2.5.pcap': pcapFile({ version: [2, 5], packets: one }),
        'reserved.pcap': pcapFile({ linkType: 0x00300001, packets: one }),
      };
      const v11 = pcapngFile({ blocks: [{ section: true }, { iface: {} }, { epb: { iface: 0, ts: 1n, data: frames[0] } }] });
      v11.writeUInt16LE(1, 14); // the section header's minor version
      refused['v1.1.pcapng'] = v11;
      for (const [name, bytes] of Object.entries(refused)) {
        const { theirs, ours } = await assertReadsAsTcpdump(file(name, bytes));
        assert.ok(theirs.error && ours.error?.startsWith('ERR_FILE: '), `${name}: ${ours.error}`);
      }
    });
  });

  describe('timestamps as the file holds them', function () {
    it('keeps a fraction of a second or more, as tcpdump shows it, and writes it back as it was', async function () {
      for (const nanoseconds of [false, true]) {
        const fractions = nanoseconds ? [999_999_999, 1_000_000_000, 4_294_967_295] : [999_999, 1_000_000, 2_147_483_648, 4_294_967_295];
        const packets = fractions.map((fraction, i) => ({ seconds: BASE + i, fraction, data: frames[i] }));
        const name = file(`fraction-${nanoseconds}.pcap`, pcapFile({ nanoseconds, packets }));
        const { ours } = await assertReadsAsTcpdump(name, { nano: nanoseconds });
        assert.deepEqual(
          ours.records.map((r) => [r.seconds, r.fraction]),
          packets.map((p) => [p.seconds, p.fraction]),
        );
        // The Packet's time is the arithmetic one: the fraction carried into the seconds.
        const read = await replay({ file: name });
        const unit = nanoseconds ? 1n : 1000n;
        assert.deepEqual(
          read.map(({ packet }) => packet.timestampNs),
          packets.map((p) => BigInt(p.seconds) * 1_000_000_000n + BigInt(p.fraction) * unit),
        );
        // tcpdump's text shows the field as it is, and so does tapwire's.
        // (A fraction field of 2³¹ or more libpcap 1.10 takes for a negative number, later ones as tapwire does.)
        const signed = packets.filter((p) => p.fraction < 2 ** 31).length;
        const theirs = spawnSync('tcpdump', ['-n', '-r', name], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
        const cli = spawnSync(process.execPath, [path.join(__dirname, '..', 'bin', 'tapwire.js'), 'capture', '-n', '-r', name], {
          encoding: 'utf8',
        });
        const ourLines = cli.stdout.split('\n').filter(Boolean);
        assert.deepEqual(
          ourLines.slice(0, signed).map((l) => l.split(' ')[0]),
          theirs.slice(0, signed).map((l) => l.split(' ')[0]),
        );
        // Written back (nanosecond pcap, pcapng) and read by tcpdump: the same times.
        for (const Writer of [PcapWriter, PcapngWriter]) {
          const out = file(`fraction-${nanoseconds}-back.${Writer === PcapWriter ? 'pcap' : 'pcapng'}`);
          const writer = new Writer(out);
          for (const batch of new Set(read.map((r) => r.batch))) writer.write(batch);
          await writer.close();
          const back = tcpdumpReads(out, { nano: true });
          assert.equal(back.error, null);
          assert.deepEqual(
            back.records.map((r) => BigInt(r.seconds) * 1_000_000_000n + BigInt(r.fraction)),
            read.map(({ packet }) => packet.timestampNs),
            Writer.name,
          );
        }
      }
    });

    it('reads pcapng timestamps past 2106 (tshark shows them; tcpdump 4.99 its low 32 bits of seconds)', async function () {
      const times = [2n ** 32n, 4_323_283_200n, 4_323_283_200n + 5n]; // 2106-02-07, 2107-01-01
      const name = file(
        'after-2106.pcapng',
        pcapngFile({
          blocks: [
            { section: true },
            { iface: { tsresol: 9 } },
            ...times.map((s, i) => ({ epb: { iface: 0, ts: s * 1_000_000_000n + BigInt(i), data: frames[i] } })),
          ],
        }),
      );
      await assertReadsAsTcpdump(name, { nano: true });
      const read = await replay({ file: name });
      assert.deepEqual(
        read.map(({ batch, i }) => [batch.secondsAt(i), batch.nanosecondsAt(i)]),
        times.map((s, i) => [Number(s), i]),
      );
      assert.deepEqual(
        tsharkFields(name, ['frame.time_epoch']).map((r) => r['frame.time_epoch']),
        times.map((s, i) => `${s}.${String(i).padStart(9, '0')}`),
      );
      // pcapng holds them when written back; classic pcap cannot, and says so.
      const back = file('after-2106-back.pcapng');
      const writer = new PcapngWriter(back);
      for (const batch of new Set(read.map((r) => r.batch))) writer.write(batch);
      await writer.close();
      assert.deepEqual(
        tsharkFields(back, ['frame.time_epoch']).map((r) => r['frame.time_epoch']),
        times.map((s, i) => `${s}.${String(i).padStart(9, '0')}`),
      );
      const pcap = new PcapWriter(file('after-2106-back.pcap'));
      assert.throws(() => pcap.write(read[0].batch), { code: 'ERR_FILE', message: /classic pcap holds times up to 2106/ });
      await pcap.close();
    });

    it("adds an interface's if_tsoffset, in every timestamp resolution", async function () {
      for (const tsresol of [6, 9, 0x80 | 20]) {
        const units = tsresol & 0x80 ? 2n ** 20n : 10n ** BigInt(tsresol);
        const name = file(
          `tsoffset-${tsresol}.pcapng`,
          pcapngFile({
            blocks: [
              { section: true },
              { iface: { tsresol, tsoffset: BASE } },
              ...frames.map((data, i) => ({ epb: { iface: 0, ts: BigInt(i) * units + units / 4n, data } })),
            ],
          }),
        );
        await assertReadsAsTcpdump(name, { nano: true });
        const read = await replay({ file: name });
        assert.deepEqual(
          tsharkFields(name, ['frame.time_epoch']).map((r) => r['frame.time_epoch']),
          read.map(
            ({ packet }) => `${packet.timestampNs / 1_000_000_000n}.${String(packet.timestampNs % 1_000_000_000n).padStart(9, '0')}`,
          ),
        );
        assert.equal(read[0].batch.secondsAt(0), BASE);
      }
    });
  });

  describe('link types', function () {
    it('filters every link type libpcap knows as tcpdump -r does (the file records LINKTYPE_, libpcap compiles for DLT_)', async function () {
      this.timeout(Math.max(this.timeout(), 600000));
      // Bytes that some expressions match on most links: an Ethernet frame's, after a few bytes of any header.
      const data = Buffer.concat([Buffer.alloc(4), frames[1]]);
      let compared = 0;
      for (let linkType = 0; linkType <= 300; linkType++) {
        const name = file(`linktype-${linkType}.pcap`, pcapFile({ linkType, packets: [{ seconds: BASE, fraction: 0, data }] }));
        const theirs = tcpdumpReads(name, { filter: 'ip' });
        // tcpdump names every link type it knows; one it cannot name is a number, not a link type.
        if (/unknown data link type/.test(theirs.error)) continue;
        assert.equal(difference(theirs, await replayReads(name, { filter: 'ip' })), null, `link type ${linkType}`);
        compared++;
      }
      assert.ok(compared > 150, `${compared} link types compared`);
    });

    for (const [linkType, what, data] of [
      [100, 'ATM RFC 1483 (LINKTYPE 100, DLT 11)', Buffer.concat([Buffer.from('aaaa030000000800', 'hex'), frames[2].subarray(14)])],
      [101, 'raw IP (LINKTYPE 101, DLT 12)', frames[2].subarray(14)],
      [106, 'Linux ATM CLIP (LINKTYPE 106, DLT 19)', Buffer.concat([Buffer.from('aaaa030000000800', 'hex'), frames[2].subarray(14)])],
    ]) {
      it(`filters ${what}, and writes its LINKTYPE back`, async function () {
        const name = file(`lt-${linkType}.pcap`, pcapFile({ linkType, packets: [{ seconds: BASE, fraction: 0, data }] }));
        for (const filter of ['ip', 'udp port 5003', 'udp port 5004', 'host 198.18.0.2']) {
          const { ours } = await assertReadsAsTcpdump(name, { filter });
          assert.equal(ours.error, null, filter);
        }
        const read = await replay({ file: name, filter: 'udp port 5003' });
        assert.equal(read.length, 1);
        for (const [Writer, ext] of [
          [PcapWriter, 'pcap'],
          [PcapngWriter, 'pcapng'],
        ]) {
          const out = file(`lt-${linkType}-back.${ext}`);
          const writer = new Writer(out);
          writer.write(read[0].batch);
          await writer.close();
          const encapsulation = (f) => tsharkFields(f, ['frame.encap_type'])[0]['frame.encap_type'];
          assert.equal(encapsulation(out), encapsulation(name), `tshark reads the ${ext} file's link type as the original's`);
          const header = spawnSync('tcpdump', ['-r', out], { encoding: 'utf8' }).stderr;
          const expected = spawnSync('tcpdump', ['-r', name], { encoding: 'utf8' }).stderr.match(/link-type (\S+)/)[1];
          assert.match(header, new RegExp(`link-type ${expected} `), ext);
        }
      });
    }

    it("matches DLT_NULL's address family in the file's byte order, as libpcap swaps it (ip, ip6, host)", async function () {
      const packets = [];
      const families = [2, 24, 28, 30]; // AF_INET; AF_INET6 of NetBSD/OpenBSD, FreeBSD, Darwin
      for (const little of [true, false]) {
        const family = (af) => {
          const b = Buffer.alloc(4);
          little ? b.writeUInt32LE(af) : b.writeUInt32BE(af);
          return b;
        };
        packets.length = 0;
        families.forEach((af, i) => {
          const payload = af === 2 ? frames[i].subarray(14) : ip6Packet(Buffer.alloc(10 + i));
          packets.push({ seconds: BASE, fraction: i, data: Buffer.concat([family(af), payload]) });
        });
        const name = file(`null-${little}.pcap`, pcapFile({ little, linkType: 0, packets }));
        for (const filter of ['ip', 'ip6', 'host 2001:db8::1', 'host 198.18.0.2', 'udp', 'ip6 and udp port 5001']) {
          const { ours } = await assertReadsAsTcpdump(name, { filter });
          if (filter === 'ip6') assert.equal(ours.records.length, 3, `${little ? 'little' : 'big'}-endian: every BSD's AF_INET6`);
        }
        // The same in pcapng, whose section may be in either byte order too.
        const ng = file(
          `null-${little}.pcapng`,
          pcapngFile({
            little,
            blocks: [
              { section: true },
              { iface: { linkType: 0 } },
              ...packets.map((p, i) => ({ epb: { iface: 0, ts: BigInt(i), data: p.data } })),
            ],
          }),
        );
        for (const filter of ['ip', 'ip6', 'host 2001:db8::1']) await assertReadsAsTcpdump(ng, { filter, nano: true });
      }
    });
  });

  describe("pseudo-headers written in the capturing host's byte order", function () {
    // Records of random bytes, with the fields that decide what libpcap rewrites set.
    const random = rng(25);
    const bytes = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
    const records = (shape) =>
      [0, 3, 15, 16, 20, 24, 40, 47, 48, 64, 65, 80, 130].map((n, i) => ({ seconds: BASE, fraction: i, data: shape(bytes(n)) }));
    const sllCan = (b) => (b.length >= 16 ? (b.writeUInt16BE(0x000c, 14), b) : b); // LINUX_SLL_P_CAN
    const sll2Can = (b) => (b.length >= 2 ? (b.writeUInt16BE(0x000d, 0), b) : b); // LINUX_SLL_P_CANFD
    const pflog = (b) => (b.length >= 1 ? ((b[0] = 61), b) : b); // the header's own length: every field present
    const nflog = (b) => {
      // An NFLOG header, then TLVs whose length and type are in host order: one of 8 bytes, then the rest.
      if (b.length >= 12) {
        b[0] = 2;
        b[1] = 0;
        b.writeUInt16BE(8, 4);
        b.writeUInt16BE(1, 6);
        b.writeUInt16BE(b.length - 12, 12 < b.length - 4 ? 12 : 4);
      }
      return b;
    };
    for (const [linkType, what, shape] of [
      [113, 'LINUX_SLL (SocketCAN ID)', sllCan],
      [276, 'LINUX_SLL2 (SocketCAN ID)', sll2Can],
      [117, 'PFLOG (uid, pid)', pflog],
      [239, 'NFLOG (TLV lengths and types)', nflog],
      [189, 'USB_LINUX (URB header)', (b) => b],
      [220, 'USB_LINUX_MMAPPED (URB header, descriptors)', (b) => b],
    ]) {
      it(`reads ${what} as libpcap converts it, in files of either byte order`, async function () {
        for (const little of [true, false]) {
          const packets = records(shape);
          const name = file(`pseudo-${linkType}-${little}.pcap`, pcapFile({ little, linkType, packets }));
          const { ours } = await assertReadsAsTcpdump(name);
          const changed = ours.records.filter((r, i) => !r.data.equals(packets[i].data)).length;
          if (little) assert.equal(changed, 0, "nothing to convert in a file of this host's byte order");
          else assert.ok(changed > 0, 'the other byte order is converted');
        }
      });
    }

    it('corrects the original length of an old memory-mapped USB isochronous capture, as libpcap does', async function () {
      const header = Buffer.alloc(64 + 2 * 16 + 30);
      header[8] = 0x43; // 'C': a completion
      header[9] = 0; // isochronous
      header[10] = 0x81; // endpoint 1, in
      header.writeUInt32LE(100, 32); // urb_len
      header.writeUInt32LE(2, 60); // ndesc
      header.writeUInt32LE(0, 64 + 4); // descriptor 0: offset 0, 10 bytes
      header.writeUInt32LE(10, 64 + 8);
      header.writeUInt32LE(10, 80 + 4); // descriptor 1: offset 10, 20 bytes
      header.writeUInt32LE(20, 80 + 8);
      const name = file(
        'usb-mmapped.pcap',
        pcapFile({ linkType: 220, packets: [{ seconds: BASE, fraction: 0, data: header, length: 64 + 32 + 100 }] }),
      );
      const { ours } = await assertReadsAsTcpdump(name);
      assert.equal(ours.records[0].length, 64 + 32 + 30, 'the length the descriptors describe');
    });
  });

  it('filters zero-length records and records shorter on the wire than captured as libpcap does (len, greater, less)', async function () {
    const packets = [
      { seconds: BASE, fraction: 0, data: Buffer.alloc(0), length: 0 }, // nothing captured, nothing on the wire
      { seconds: BASE, fraction: 1, data: frames[4], length: 60 }, // original length below the captured one
      { seconds: BASE, fraction: 2, data: frames[0].subarray(0, 34), length: 400 }, // cut by the snaplen
      { seconds: BASE, fraction: 3, data: Buffer.alloc(0), length: 150 }, // none of 150 bytes captured
      { seconds: BASE, fraction: 4, data: frames[1] },
    ];
    for (const version of [
      [2, 4],
      [2, 3], // where libpcap swaps lengths whose captured one is larger
    ]) {
      const name = file(`lengths-${version[1]}.pcap`, pcapFile({ version, packets }));
      await assertReadsAsTcpdump(name);
      for (const filter of ['len > 100', 'len <= 100', 'greater 60', 'less 60', 'udp', 'len == 0']) {
        const { ours } = await assertReadsAsTcpdump(name, { filter });
        if (filter === 'len == 0') assert.equal(ours.records.length, 1, 'a record of no bytes can pass a filter');
      }
    }
  });

  it('prints a packet line for each packet tcpdump prints one for, odd records included (tapwire capture -r)', async function () {
    const packets = [
      { seconds: BASE, fraction: 0, data: Buffer.alloc(0), length: 0 },
      { seconds: BASE, fraction: 1_000_000, data: frames[4], length: 60 },
      { seconds: BASE, fraction: 2, data: frames[0].subarray(0, 10), length: 400 },
      { seconds: BASE, fraction: 3, data: frames[1] },
    ];
    const name = file('lines.pcap', pcapFile({ snaplen: 46, packets }));
    const lines = packetLines(name);
    assert.equal(lines.tcpdump, packets.length);
    assert.equal(lines.tapwire, lines.tcpdump);
    // Where the text once differed (a file libpcap refuses, a pcapng time past 2106), the reading did.
    const refused = file('lines-2.5.pcap', pcapFile({ version: [2, 5], packets }));
    const late = file(
      'lines-2107.pcapng',
      pcapngFile({
        blocks: [{ section: true }, { iface: { tsresol: 9 } }, { epb: { iface: 0, ts: 4_323_283_200n * 1_000_000_000n, data: frames[0] } }],
      }),
    );
    assert.deepEqual(packetLines(refused), { tcpdump: 0, tapwire: 0 });
    assert.deepEqual(packetLines(late), { tcpdump: 1, tapwire: 1 });
  });
});
