'use strict';
// Header views against tshark, field by field: a corpus of odd frames (IPv4 options and
// fragments, IPv6 extension headers, 802.1Q/802.1ad, ARP, truncations) written under
// every link type the views read, and real traffic (TCP and UDP over IPv4 and IPv6,
// on loopback and across a VLAN between network namespaces) captured by tcpdump as
// Ethernet and as Linux cooked v1 and v2, then replayed through openCapturer({ file }).
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { HeaderView, openCapturer, LINKTYPE } = require('../..');
const { corpus } = require('../helpers/corpus');
const { pcapFile } = require('../helpers/files');
const { requireTools } = require('../helpers/privileged');
const { tsharkRows, fromTshark, fromView, broken } = require('./tshark');
const { withTraffic } = require('./traffic');

/**
 * Compares every frame's layers. Where tshark flagged a frame malformed or in error (it
 * reads a header that was cut short field by field, the view calls it absent), one side may
 * lack a layer; a layer both found must agree everywhere. Returns the frames compared.
 */
function assertAgree(rows, views, what) {
  assert.strictEqual(views.length, rows.length, `${what}: tshark read ${rows.length} frames, the views ${views.length}`);
  let layers = 0;
  views.forEach((view, i) => {
    const theirs = fromTshark(rows[i]);
    for (const layer of new Set([...Object.keys(theirs), ...Object.keys(view)])) {
      if (theirs[layer] === undefined || view[layer] === undefined) {
        assert.ok(
          broken(rows[i]),
          `${what}, frame ${i + 1}: ${layer} ${JSON.stringify(theirs[layer])} (tshark) vs ${JSON.stringify(view[layer])}`,
        );
        continue;
      }
      assert.deepStrictEqual(view[layer], theirs[layer], `${what}, frame ${i + 1}: ${layer}`);
      layers++;
    }
  });
  return layers;
}

function tempFile(name, data) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-headers-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The same frames under another link layer: what each link type's header looks like. */
const ENCAPSULATIONS = {
  ethernet: { linkType: LINKTYPE.ETHERNET, wrap: (f) => f },
  sll: {
    linkType: LINKTYPE.LINUX_SLL,
    // packet type 0 (to us), ARPHRD_ETHER, 6-byte address, the EtherType (and any tags) after it
    wrap: (f) => Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 6]), f.subarray(6, 12), Buffer.alloc(2), f.subarray(12)]),
  },
  sll2: {
    linkType: LINKTYPE.LINUX_SLL2,
    wrap: (f) =>
      Buffer.concat([f.subarray(12, 14), Buffer.from([0, 0, 0, 0, 0, 7, 0, 1, 0, 6]), f.subarray(6, 12), Buffer.alloc(2), f.subarray(14)]),
    ifindex: 7,
  },
  // BSD loopback: AF_INET 2, AF_INET6 24 (NetBSD) or 30 (macOS) in the writer's byte order.
  nullLittle: { linkType: LINKTYPE.NULL, ip: true, wrap: (f, v6) => Buffer.concat([Buffer.from([v6 ? 30 : 2, 0, 0, 0]), f.subarray(14)]) },
  nullBig: { linkType: LINKTYPE.NULL, ip: true, wrap: (f, v6) => Buffer.concat([Buffer.from([0, 0, 0, v6 ? 24 : 2]), f.subarray(14)]) },
  loop: { linkType: LINKTYPE.LOOP, ip: true, wrap: (f, v6) => Buffer.concat([Buffer.from([0, 0, 0, v6 ? 24 : 2]), f.subarray(14)]) },
  raw: { linkType: LINKTYPE.RAW, ip: true, wrap: (f) => f.subarray(14) },
};

describe('header views', function () {
  const frames = corpus(800, 23);

  for (const [name, enc] of Object.entries(ENCAPSULATIONS)) {
    it(`agree with tshark on a corpus of odd frames as ${name} (link type ${enc.linkType})`, function () {
      requireTools(this, ['tshark']);
      // Link types that carry IP alone get the untagged IP frames.
      const picked = enc.ip ? frames.filter((f) => [0x0800, 0x86dd].includes(f.readUInt16BE(12)) && f.length > 14) : frames;
      const packets = picked.map((f, i) => ({ seconds: 1_700_000_000 + i, fraction: 0, data: enc.wrap(f, f.readUInt16BE(12) === 0x86dd) }));
      const { file, remove } = tempFile(`${name}.pcap`, pcapFile({ linkType: enc.linkType, packets }));
      try {
        const h = new HeaderView();
        const views = packets.map((p) => fromView(h.read(p.data, 0, p.data.length, enc.linkType)));
        const layers = assertAgree(tsharkRows(file), views, name);
        assert.ok(layers > picked.length, `only ${layers} layers compared`);
        if (enc.ifindex) assert.ok(views.every((v) => v.linkInterfaceIndex === enc.ifindex));
      } finally {
        remove();
      }
    });
  }

  it('read every prefix of every corpus frame, and garbage, without a throw, and never past the end', function () {
    const h = new HeaderView();
    const check = (bytes, offset, length, linkType) => {
      h.read(bytes, offset, length, linkType);
      const end = offset + length;
      for (const at of [h.networkOffset, h.transportOffset]) assert.ok(at < end, `an offset ${at} past the end ${end}`);
      assert.ok(h.payloadOffset < 0 || (h.payloadOffset >= h.transportOffset && h.payloadOffset + h.payloadLength <= end));
      // Every getter answers.
      JSON.stringify(h.toJSON());
      void [h.mss, h.windowScale, h.sackPermitted, h.tsVal, h.tsEcr, h.ipId, h.flowLabel, h.arpOperation];
    };
    const big = Buffer.alloc(4096, 0xff);
    for (const f of frames) {
      f.copy(big, 100);
      for (let n = 0; n <= f.length; n++) {
        for (const linkType of [LINKTYPE.ETHERNET, LINKTYPE.LINUX_SLL, LINKTYPE.LINUX_SLL2, LINKTYPE.RAW, LINKTYPE.NULL, 9999]) {
          // Bytes past `length` are there (0xff) but must not be read.
          check(big, 100, n, linkType);
        }
      }
    }
    check(Buffer.alloc(0), 0, 10, LINKTYPE.ETHERNET);
    check(Buffer.alloc(8), 6, -5, LINKTYPE.RAW);
  });

  it('IPv6 extension headers and fragments: ports after hop-by-hop and routing, none after a later fragment', function () {
    // Ethernet / IPv6 / hop-by-hop / routing / fragment (offset 0, more) / UDP
    const udp = Buffer.from([0x9c, 0x40, 0x00, 0x35, 0x00, 0x0c, 0, 0, 1, 2, 3, 4]);
    const ext = Buffer.concat([
      Buffer.from([43, 0, 1, 4, 0, 0, 0, 0]),
      Buffer.from([44, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from([17, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]),
    ]);
    const ip6 = Buffer.alloc(40);
    ip6[0] = 0x60;
    ip6.writeUInt16BE(ext.length + udp.length, 4);
    ip6[6] = 0;
    ip6[7] = 9;
    ip6[23] = 1;
    ip6[39] = 2;
    const eth = Buffer.from('0200000000010200000000028' + '6dd', 'hex');
    const h = new HeaderView().read(Buffer.concat([eth, ip6, ext, udp]), 0, 14 + 40 + ext.length + udp.length, LINKTYPE.ETHERNET);
    assert.deepStrictEqual(
      [h.protocol, h.srcPort, h.dstPort, h.ipv6Extensions, h.moreFragments, h.ipId, h.payloadLength],
      [17, 40000, 53, 3, true, 0xdeadbeef, 4],
    );
    assert.strictEqual(h.srcAddress, '::1');
    // The same datagram's second fragment: the protocol is known, the ports are not there.
    ext.writeUInt16BE(0x0010, 18);
    h.read(Buffer.concat([eth, ip6, ext, udp]), 0, 14 + 40 + ext.length + udp.length, LINKTYPE.ETHERNET);
    assert.deepStrictEqual([h.protocol, h.srcPort, h.fragmentOffset, h.isFragment, h.transportOffset], [17, -1, 16, true, -1]);
  });

  describe('on real traffic', function () {
    const traffic = withTraffic(this);

    for (const capture of ['loopback', 'veth', 'sll', 'sll2']) {
      it(`agree with tshark on ${capture} frames tcpdump captured, replayed through openCapturer`, async function () {
        const file = traffic().files[capture];
        const rows = tsharkRows(file);
        const cap = await openCapturer({ file });
        const views = [];
        const h = new HeaderView();
        for await (const batch of cap) for (let i = 0; i < batch.length; i++) views.push(fromView(batch.headersAt(i, h)));
        await cap.close();
        assertAgree(rows, views, capture);
        const tcp = views.filter((v) => v.transport?.tcpFlags !== undefined);
        const syns = tcp.filter((v) => v.transport.tcpFlags & 0x02);
        assert.ok(tcp.length >= 10 && syns.length >= 2, `${capture}: ${tcp.length} TCP frames, ${syns.length} SYNs`);
        // A SYN from Linux carries every option the views read.
        assert.ok(
          syns.every((v) => v.transport.mss > 0 && v.transport.windowScale >= 0 && v.transport.sackPermitted && v.transport.tsVal > 0),
        );
        assert.ok(
          views.some((v) => v.ip?.srcAddress.includes(':')) && views.some((v) => v.ip?.srcAddress.includes('.')),
          `${capture}: IPv4 and IPv6`,
        );
        assert.ok(
          views.some((v) => v.transport?.udpLength > 0),
          `${capture}: UDP`,
        );
      });
    }

    it('read 802.1Q tags on frames of a VLAN device', function () {
      const { vlan, files } = traffic();
      if (vlan.reason) this.skip(vlan.reason);
      const rows = tsharkRows(files.veth).map(fromTshark);
      const tagged = rows.filter((r) => r.vlan === vlan.id);
      assert.ok(tagged.filter((r) => r.transport?.tcpFlags !== undefined).length >= 10, `${tagged.length} tagged frames`);
    });

    it('read the same headers from a live capture as tshark from tcpdump’s file of it', async function () {
      const { live, files } = traffic();
      const rows = tsharkRows(files.loopback).map((r) => JSON.stringify(fromTshark(r).transport ?? null));
      const seen = live.map((v) => JSON.stringify(v.transport ?? null));
      assert.ok(seen.length >= 10);
      assert.deepStrictEqual(seen.sort(), rows.sort());
    });

    it('pkt.headers reads what batch.headersAt reads', async function () {
      const cap = await openCapturer({ file: traffic().files.loopback });
      let n = 0;
      for await (const batch of cap) {
        for (const [i, pkt] of [...batch].entries()) {
          assert.deepStrictEqual(pkt.headers.toJSON(), batch.headersAt(i).toJSON());
          assert.strictEqual(pkt.headers, pkt.headers);
          n++;
        }
      }
      await cap.close();
      assert.ok(n > 0);
    });
  });
});
