'use strict';
// Flow records against tshark's conversations (tcp.stream, udp.stream) on real traffic:
// the same ends, frames and bytes each way; the ClientHello's SNI, ALPN and JA4 against
// JA4 assembled from tshark's dissection of the same hello (tshark 4.0 has no JA4 of its
// own) and against the JA4 specification's published example; timeouts, eviction and
// attribution.
const assert = require('node:assert');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer, probe } = require('../..');
const { flows, parseHello } = require('../../dist/conversations');
const { pcapFile, tcpFrame, udpFrame } = require('../helpers/files');
const { requirePrivileges, requireTools } = require('../helpers/privileged');
const { run } = require('../helpers/tools');
const { tsharkStreams } = require('./tshark');
const { withTraffic } = require('./traffic');

async function allFlows(file, options) {
  const cap = await openCapturer({ file });
  const records = flows(cap, options);
  const list = [];
  for await (const f of records) list.push(f);
  return { list, stats: records.stats };
}

const isGrease = (v) => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
const hex4 = (v) => v.toString(16).padStart(4, '0');
const sha12 = (s) => createHash('sha256').update(s).digest('hex').slice(0, 12);

/** JA4 by its specification, from tshark's fields of a ClientHello. */
function ja4FromTshark(h) {
  const ciphers = h.ciphers.filter((c) => !isGrease(c));
  const extensions = h.extensions.filter((e) => !isGrease(e));
  const versions = h.versions.filter((v) => !isGrease(v));
  const version = { 0x0304: '13', 0x0303: '12', 0x0302: '11', 0x0301: '10' }[Math.max(...versions)];
  const alpn = h.alpn[0] ? h.alpn[0][0] + h.alpn[0].at(-1) : '00';
  const count = (n) => String(Math.min(n, 99)).padStart(2, '0');
  const a = `t${version}${extensions.includes(0) ? 'd' : 'i'}${count(ciphers.length)}${count(extensions.length)}${alpn}`;
  const sortedExt = extensions
    .filter((e) => e !== 0 && e !== 16)
    .map(hex4)
    .sort()
    .join(',');
  const sigs = h.signatureAlgorithms.map(hex4).join(',');
  return `${a}_${sha12(ciphers.map(hex4).sort().join(','))}_${sha12(sigs ? `${sortedExt}_${sigs}` : sortedExt)}`;
}

/** A ClientHello body with these lists, GREASE values mixed in as browsers send them. */
function helloBody({ ciphers, extensions, signatureAlgorithms, sni, alpn }) {
  const u16 = (v) => Buffer.from([v >> 8, v & 0xff]);
  const vec16 = (b) => Buffer.concat([u16(b.length), b]);
  const body = (type) => {
    if (type === 0x0000) return vec16(Buffer.concat([Buffer.from([0]), vec16(Buffer.from(sni))]));
    if (type === 0x0010)
      return vec16(Buffer.concat(alpn.map((p) => Buffer.concat([Buffer.from([Buffer.from(p).length]), Buffer.from(p)]))));
    if (type === 0x000d) return vec16(Buffer.concat(signatureAlgorithms.map(u16)));
    if (type === 0x002b) return Buffer.concat([Buffer.from([6]), u16(0x7a7a), u16(0x0304), u16(0x0303)]);
    return Buffer.alloc(0);
  };
  const ext = (type) => Buffer.concat([u16(type), vec16(body(type))]);
  return Buffer.concat([
    u16(0x0303),
    Buffer.alloc(32, 7),
    Buffer.from([0]),
    vec16(Buffer.concat([u16(0x0a0a), ...ciphers.map(u16)])),
    Buffer.from([1, 0]),
    vec16(Buffer.concat([ext(0x1a1a), ...extensions.map(ext), ext(0xfafa)])),
  ]);
}

describe('flows', function () {
  it('tapwire/conversations is a subpath export the core does not load, the same instance from ESM', function () {
    const root = path.join(__dirname, '..', '..');
    const script = `
      require('tapwire');
      const loaded = Object.keys(require.cache).filter((f) => f.includes('conversations'));
      import('tapwire/conversations').then((esm) => {
        const cjs = require('tapwire/conversations');
        const names = Object.keys(cjs).filter((n) => esm[n] !== cjs[n]);
        console.log(JSON.stringify({ loaded, names, flows: typeof esm.flows }));
      });`;
    const out = JSON.parse(require('node:child_process').execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }));
    assert.deepStrictEqual(out, { loaded: [], names: [], flows: 'function' });
  });

  it("JA4 of the specification's example hello is its published value", function () {
    // The lists in their original order, from the example in FoxIO's JA4 specification.
    const hello = parseHello(
      helloBody({
        ciphers: [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035],
        extensions: [
          0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
        ],
        signatureAlgorithms: [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
        sni: 'example.com',
        alpn: ['h2', 'http/1.1'],
      }),
    );
    assert.deepStrictEqual(hello, {
      version: '1.3',
      sni: 'example.com',
      alpn: ['h2', 'http/1.1'],
      ja4: 't13d1516h2_8daaf6152771_e5627efa2ab1',
    });
  });

  it('JA4 without SNI, ALPN or signature algorithms; hex for an ALPN that is not alphanumeric', function () {
    const plain = parseHello(helloBody({ ciphers: [0x1301], extensions: [0x002b], signatureAlgorithms: [], sni: '', alpn: [] }));
    // No signature algorithms: the extension list alone is hashed, with no underscore.
    assert.strictEqual(plain.ja4, `t13i010100_${sha12('1301')}_${sha12('002b')}`);
    // No supported_versions: the hello's own version (1.2). ALPN 01 78 ff: hex, first and last digit.
    const odd = parseHello(
      helloBody({ ciphers: [0x1301], extensions: [0x0010], signatureAlgorithms: [], sni: '', alpn: [Buffer.from([0x01, 0x78, 0xff])] }),
    );
    assert.strictEqual(odd.ja4.slice(0, 10), 't12i01010f');
    assert.strictEqual(odd.version, '1.2');
    assert.strictEqual(parseHello(Buffer.from([3, 3, 0])), null);
  });

  describe('on real traffic', function () {
    const traffic = withTraffic(this);

    for (const capture of ['loopback', 'veth']) {
      it(`match tshark's conversations on ${capture} traffic, frames and bytes each way`, async function () {
        const file = traffic().files[capture];
        const theirs = tsharkStreams(file);
        const { list, stats } = await allFlows(file);
        const ours = list.filter((f) => f.protocol === 'tcp' || f.protocol === 'udp');
        const key = (p, c, s) => `${p} ${c.address}.${c.port} > ${s.address}.${s.port}`;
        const mine = new Map(ours.map((f) => [key(f.protocol, f.client, f.server), f]));
        assert.strictEqual(ours.length, theirs.length, `${ours.length} flows, tshark ${theirs.length} conversations`);
        for (const t of theirs) {
          const f = mine.get(key(t.protocol, t.client, t.server));
          assert.ok(f, `no flow for tshark's ${key(t.protocol, t.client, t.server)}`);
          const counts = (e) => [e.packets, e.bytes, e.retransmissions, e.gaps];
          assert.deepStrictEqual(
            [counts(f.client), counts(f.server)],
            [counts(t.client), counts(t.server)],
            key(t.protocol, t.client, t.server),
          );
          if (f.protocol === 'tcp') {
            assert.ok(f.tcp.handshake && f.tcp.clientFin && f.tcp.serverFin, JSON.stringify(f.tcp));
            assert.strictEqual(f.end, 'fin');
          }
          if (t.hello) {
            assert.ok(f.tls, `${key(t.protocol, t.client, t.server)}: no ClientHello read`);
            assert.deepStrictEqual(f.tls, {
              version: '1.3',
              sni: t.hello.sni,
              alpn: t.hello.alpn,
              ja4: ja4FromTshark(t.hello),
            });
          } else {
            assert.strictEqual(f.tls, null);
          }
        }
        // Every packet is in a flow or counted as not in one.
        const inFlows = list.reduce((n, f) => n + f.client.packets + f.server.packets, 0);
        const skipped = stats.skipped.notIp + stats.skipped.fragments + stats.skipped.truncated;
        assert.strictEqual(inFlows + skipped, stats.packets);
        if (capture === 'loopback') {
          const hellos = ours.filter((f) => f.tls);
          assert.deepStrictEqual(hellos.map((f) => f.tls.sni).sort(), [null, 'tls.test', 'tls.test']);
          assert.deepStrictEqual(hellos.map((f) => f.tls.alpn.join()).sort(), ['h2,http/1.1', 'h2,http/1.1', 'http/1.1']);
        }
      });
    }

    it('evicts the oldest flow beyond maxFlows, and counts it', async function () {
      const all = await allFlows(traffic().files.loopback);
      const { list, stats } = await allFlows(traffic().files.loopback, { maxFlows: 2 });
      assert.ok(stats.evicted > 0);
      assert.strictEqual(list.filter((f) => f.end === 'evicted').length, stats.evicted);
      // Evicted flows come back as new records when their packets go on: no packet is lost.
      const count = (l) => l.reduce((n, f) => n + f.client.packets + f.server.packets, 0);
      assert.strictEqual(count(list), count(all.list));
      assert.strictEqual(stats.flows, list.length);
    });
  });

  it('count retransmissions and gaps where tshark marks them', async function () {
    requireTools(this, ['tshark']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-flows-'));
    try {
      // A handshake, 11 bytes, the same 11 bytes again, an ACK, then data 18 bytes further on.
      const d = Buffer.from('hello world');
      const none = Buffer.alloc(0);
      const segments = [
        tcpFrame(100, 0, 0x02, none),
        tcpFrame(500, 101, 0x12, none, true),
        tcpFrame(101, 501, 0x10, none),
        tcpFrame(101, 501, 0x18, d),
        tcpFrame(101, 501, 0x18, d),
        tcpFrame(501, 112, 0x10, none, true),
        tcpFrame(130, 501, 0x18, d),
        // The server's 10 bytes were not captured: its FIN, with no data, is the first to show it.
        tcpFrame(511, 141, 0x11, none, true),
      ];
      const file = path.join(dir, 'tcp.pcap');
      fs.writeFileSync(file, pcapFile({ packets: segments.map((data, i) => ({ seconds: 1_700_000_000 + i, fraction: 0, data })) }));
      const [t] = tsharkStreams(file);
      const { list } = await allFlows(file);
      assert.strictEqual(list.length, 1);
      const f = list[0];
      assert.deepStrictEqual([f.client.retransmissions, f.client.gaps], [t.client.retransmissions, t.client.gaps]);
      assert.deepStrictEqual([f.client.retransmissions, f.client.gaps, f.client.gapBytes, f.client.payloadBytes], [1, 1, 18, 33]);
      assert.deepStrictEqual([f.server.retransmissions, f.server.gaps], [t.server.retransmissions, t.server.gaps]);
      assert.deepStrictEqual([f.server.gaps, f.server.gapBytes, f.server.payloadBytes], [1, 10, 0]);
      assert.deepStrictEqual([f.tcp.state, f.tcp.handshake, f.tcp.serverFin], ['closing', true, true]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('end flows after the idle and active timeouts, by capture time', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-flows-'));
    try {
      // One UDP 5-tuple: packets at 0..50 s every 10 s, then one at 200 s.
      const times = [0, 10, 20, 30, 40, 50, 200];
      const file = path.join(dir, 'udp.pcap');
      fs.writeFileSync(
        file,
        pcapFile({ packets: times.map((t) => ({ seconds: 1_700_000_000 + t, fraction: 0, data: udpFrame(Buffer.from('x')) })) }),
      );
      const idle = await allFlows(file, { idleTimeout: 60_000 });
      assert.deepStrictEqual(
        idle.list.map((f) => [f.end, f.client.packets]),
        [
          ['idle', 6],
          ['end', 1],
        ],
      );
      // The packet at 30 s is past the active timeout: it starts the second record.
      const active = await allFlows(file, { idleTimeout: 60_000, activeTimeout: 25_000 });
      assert.deepStrictEqual(
        active.list.map((f) => [f.end, f.client.packets]),
        [
          ['active', 3],
          ['idle', 3],
          ['end', 1],
        ],
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names each end's process where the capture attributes packets", async function () {
    await requirePrivileges(this, ['curl']);
    const report = await probe();
    if (!report.features.attribution?.ok) this.skip(`attribution: ${report.features.attribution?.reason}`);
    const http = require('node:http');
    const server = http.createServer((req, res) => res.end('ok'));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address();
    const cap = await openCapturer({ interfaces: ['lo'], filter: `tcp port ${port}`, attribution: true });
    const reading = (async () => {
      const list = [];
      for await (const f of flows(cap)) list.push(f);
      return list;
    })();
    const curl = await run('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${port}/`]);
    await new Promise((r) => setTimeout(r, 200));
    await cap.close();
    server.close();
    const list = await reading;
    assert.strictEqual(curl.code, 0);
    assert.strictEqual(list.length, 1);
    assert.strictEqual(list[0].client.process?.comm, 'curl');
    assert.strictEqual(list[0].server.process?.pid, process.pid);
  });
});
