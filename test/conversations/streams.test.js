'use strict';
// TCP streams against tshark's "follow TCP stream" on real traffic; a real download
// replayed reordered, duplicated, overlapping and with a segment missing (each byte
// once, the hole reported with its size); bounds on waiting data; TLS plaintext as
// streams from the TLS plugin, live.
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer, HeaderView, LINKTYPE } = require('../..');
const { tcpStreams, StreamTable } = require('../../dist/conversations');
const { pcapFile } = require('../helpers/files');
const { requirePrivileges } = require('../helpers/privileged');
const { readPcap, run } = require('../helpers/tools');
const { certificate, startServer, stop } = require('../helpers/tls-peers');
const { tsharkStreams, tsharkFollow } = require('./tshark');
const { withTraffic } = require('./traffic');

/** Every stream's bytes each way, holes and whether it closed, by "client > server". */
async function collect(source, options) {
  const streams = new Map();
  for await (const ev of tcpStreams(source, options)) {
    const key = `${ev.stream.client.address}.${ev.stream.client.port} > ${ev.stream.server.address}.${ev.stream.server.port}`;
    let s = streams.get(ev.stream.id);
    if (!s) streams.set(ev.stream.id, (s = { key, stream: ev.stream, client: [], server: [], holes: [], opened: 0, closed: 0 }));
    if (ev.type === 'open') s.opened++;
    else if (ev.type === 'close') s.closed++;
    else if (ev.type === 'data') s[ev.from].push(ev.data);
    else s.holes.push({ from: ev.from, size: ev.size, at: Buffer.concat(s[ev.from]).length });
  }
  for (const s of streams.values()) {
    s.client = Buffer.concat(s.client);
    s.server = Buffer.concat(s.server);
  }
  return [...streams.values()];
}

function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-streams-'));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A TCP segment's frame with a new sequence number and payload (headers kept, lengths fixed). */
function resegment(frame, h, seq, payload) {
  const l4 = h.transportOffset;
  const head = Buffer.from(frame.subarray(0, h.payloadOffset));
  head.writeUInt32BE(seq >>> 0, l4 + 4);
  const net = h.networkOffset;
  if (h.ipVersion === 4) head.writeUInt16BE(h.payloadOffset - net + payload.length, net + 2);
  else head.writeUInt16BE(h.payloadOffset - net - 40 + payload.length, net + 4);
  return Buffer.concat([head, payload]);
}

describe('TCP streams', function () {
  describe('on real traffic', function () {
    const traffic = withTraffic(this);

    for (const capture of ['loopback', 'veth']) {
      it(`deliver each direction's bytes as tshark follows them, on ${capture} traffic`, async function () {
        const file = traffic().files[capture];
        const theirs = tsharkStreams(file).filter((t) => t.protocol === 'tcp');
        const follow = tsharkFollow(
          file,
          theirs.map((t) => t.index),
        );
        const ours = await collect(await openCapturer({ file }));
        assert.strictEqual(ours.length, theirs.length);
        for (const t of theirs) {
          const key = `${t.client.address}.${t.client.port} > ${t.server.address}.${t.server.port}`;
          const s = ours.find((o) => o.key === key);
          assert.ok(s, `no stream ${key}`);
          const f = follow.get(t.index);
          assert.ok(s.client.equals(f.client), `${key}: client bytes ${s.client.length} vs tshark's ${f.client.length}`);
          assert.ok(s.server.equals(f.server), `${key}: server bytes ${s.server.length} vs tshark's ${f.server.length}`);
          assert.deepStrictEqual([s.holes, s.opened, s.closed], [[], 1, 1], key);
        }
        if (capture === 'veth') assert.ok(ours.some((s) => s.server.subarray(-traffic().big.length).equals(traffic().big)));
      });
    }

    /** The download's frames, and which of them carry its data from the server. */
    function download() {
      const frames = readPcap(fs.readFileSync(traffic().files.veth)).map((p) => p.data);
      const h = new HeaderView();
      const sizes = new Map();
      for (const f of frames) {
        h.read(f, 0, f.length, LINKTYPE.ETHERNET);
        if (h.isTcp) sizes.set(h.dstPort, (sizes.get(h.dstPort) ?? 0) + h.payloadLength);
      }
      const clientPort = [...sizes].sort((a, b) => b[1] - a[1])[0][0];
      const picked = frames.filter(
        (f) => h.read(f, 0, f.length, LINKTYPE.ETHERNET).isTcp && (h.srcPort === clientPort || h.dstPort === clientPort),
      );
      const data = picked
        .map((f, i) => (h.read(f, 0, f.length, LINKTYPE.ETHERNET).dstPort === clientPort && h.payloadLength > 0 ? i : -1))
        .filter((i) => i >= 0);
      return { frames: picked, data };
    }

    async function replay(frames, options) {
      const { dir, remove } = tempDir();
      try {
        const file = path.join(dir, 'mangled.pcap');
        fs.writeFileSync(file, pcapFile({ packets: frames.map((data, i) => ({ seconds: 1_700_000_000, fraction: i, data })) }));
        return await collect(await openCapturer({ file }), options);
      } finally {
        remove();
      }
    }

    it('put reordered, duplicated and overlapping segments back in order once, and report a missing one as a hole of its size', async function () {
      const { frames, data } = download();
      assert.ok(data.length > 50, `only ${data.length} data segments`);
      const [whole] = (await replay(frames)).filter((s) => s.server.length > traffic().big.length);
      const h = new HeaderView();
      const out = [];
      const dropAt = data[Math.floor(data.length / 2)];
      let dropped = 0;
      // A held segment goes out after the next one, and so do the ACKs between (an ACK
      // of data not yet seen would give its hole up).
      let held = null;
      let acks = [];
      frames.forEach((frame, i) => {
        const k = data.indexOf(i);
        if (i === dropAt) {
          dropped = h.read(frame, 0, frame.length, LINKTYPE.ETHERNET).payloadLength;
          return;
        }
        if (k < 0 && held) return acks.push(frame);
        if (k < 0 || k < 3) return out.push(frame);
        h.read(frame, 0, frame.length, LINKTYPE.ETHERNET);
        const payload = frame.subarray(h.payloadOffset);
        if (k % 11 === 0) {
          // Two overlapping pieces, the second first: each covers two thirds.
          const third = Math.floor(payload.length / 3);
          out.push(resegment(frame, h, h.seq + third, payload.subarray(third)));
          out.push(resegment(frame, h, h.seq, payload.subarray(0, 2 * third)));
        } else if (k % 7 === 0) {
          out.push(frame, frame);
        } else if (k % 5 === 0 && !held) {
          held = frame;
          return;
        } else out.push(frame);
        if (held) {
          out.push(held, ...acks);
          held = null;
          acks = [];
        }
      });
      if (held) out.push(held, ...acks);
      const [mangled] = (await replay(out)).filter((s) => s.server.length > traffic().big.length / 2);
      assert.ok(dropped > 0);
      assert.deepStrictEqual(
        mangled.holes.map((x) => [x.from, x.size]),
        [['server', dropped]],
      );
      const at = mangled.holes[0].at;
      assert.ok(mangled.server.equals(Buffer.concat([whole.server.subarray(0, at), whole.server.subarray(at + dropped)])));
      assert.ok(mangled.client.equals(whole.client));
    });

    it('hold at most maxBufferedPerStream and maxBuffered waiting, give holes up, count drops, never throw', async function () {
      const { frames, data } = download();
      // The server's data in reverse order, without the client's ACKs (which would give
      // the holes up at once): everything waits for the first segment.
      const h = new HeaderView();
      const serverData = new Set(data);
      const kept = frames.filter((f, i) => i < data[0] || serverData.has(i) || h.read(f, 0, f.length, LINKTYPE.ETHERNET).payloadLength > 0);
      const segs = data.map((i) => frames[i]);
      const reversed = [...kept.filter((f) => !segs.includes(f)), ...segs.reverse()];
      const { dir, remove } = tempDir();
      try {
        const file = path.join(dir, 'reversed.pcap');
        fs.writeFileSync(file, pcapFile({ packets: reversed.map((d, i) => ({ seconds: 1_700_000_000, fraction: i, data: d })) }));
        for (const options of [{ maxBufferedPerStream: 16 * 1024 }, { maxBuffered: 8 * 1024 }]) {
          let most = 0;
          let delivered = 0;
          const table = new StreamTable(
            {
              data: (s, from, bytes) => (delivered += bytes.length),
              hole: () => {},
              close: () => {},
            },
            options,
          );
          const cap = await openCapturer({ file });
          for await (const batch of cap) {
            for (let i = 0; i < batch.length; i++) {
              table.flows.add(batch, i);
              most = Math.max(most, table.stats.buffered);
            }
          }
          table.flush();
          const limit = options.maxBufferedPerStream ?? options.maxBuffered;
          assert.ok(most <= limit, `${most} bytes waited, limit ${limit}`);
          assert.ok(delivered > 0 && table.stats.buffered === 0);
          if (options.maxBuffered) assert.ok(table.stats.droppedSegments > 0 && table.stats.droppedBytes > 0);
          else assert.ok(table.stats.holes > 0);
        }
      } finally {
        remove();
      }
    });
  });

  it('TLS plaintext from the TLS plugin forms streams: curl’s request and the reply it read', async function () {
    await requirePrivileges(this, ['curl', 'openssl']);
    const cert = certificate();
    const port = 20000 + ((process.pid * 7) % 20000);
    const server = await startServer(
      'openssl',
      ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', cert.cert, '-key', cert.key, '-www'],
      /ACCEPT/,
    );
    try {
      const cap = await openCapturer({ interfaces: ['lo'], filter: `tcp port ${port}`, tls: 'required' });
      const collecting = collect(cap);
      const r = await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', `https://127.0.0.1:${port}/`]);
      assert.strictEqual(r.code, 0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await cap.close();
      const streams = await collecting;
      const tls = streams.filter((s) => s.stream.kind === 'tls' && s.stream.tls.comm === 'curl');
      assert.strictEqual(tls.length, 1);
      assert.match(tls[0].client.toString('latin1'), /^GET \/ HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
      assert.match(tls[0].server.toString('latin1'), /^HTTP\/1\.0 200 ok\r\n/);
      // The same connection's TCP stream carries the ciphertext.
      const tcp = streams.filter((s) => s.stream.kind === 'tcp');
      assert.strictEqual(tcp.length, 1);
      assert.strictEqual(tcp[0].stream.flow.tls.sni, null);
    } finally {
      await stop(server);
      fs.rmSync(cert.dir, { recursive: true, force: true });
    }
  });
});
