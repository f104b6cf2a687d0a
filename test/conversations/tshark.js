'use strict';
// Differential checks of header views against tshark: the same file read by both, field
// by field. tshark's values are normalised to the view's units (fragment offset in
// bytes, flags as numbers) so that one comparison covers every link type.
const { execFileSync } = require('node:child_process');

const FIELDS = [
  'frame.number',
  'frame.cap_len',
  'eth.src',
  'eth.dst',
  'vlan.id',
  'ieee8021ad.id',
  'sll.ifindex',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.ttl',
  'ip.id',
  'ip.hdr_len',
  'ip.flags.mf',
  'ip.frag_offset',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.hlim',
  'ipv6.fraghdr.offset',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.flags',
  'tcp.window_size_value',
  'tcp.hdr_len',
  'tcp.option_kind',
  'tcp.options.mss_val',
  'tcp.options.wscale.shift',
  'tcp.options.timestamp.tsval',
  'tcp.options.timestamp.tsecr',
  'tcp.len',
  'udp.srcport',
  'udp.dstport',
  'udp.length',
  'icmp.type',
  'icmp.code',
  'icmpv6.type',
  'icmpv6.code',
  'arp.opcode',
  'arp.src.hw_mac',
  'arp.src.proto_ipv4',
  'arp.dst.hw_mac',
  'arp.dst.proto_ipv4',
  '_ws.malformed',
  '_ws.expert.severity',
];

/** tshark's reading of `file`: per frame, each field's occurrences joined by `aggregator` ('' when absent). */
function tsharkFrames(file, fields, extra = [], aggregator = ',') {
  const args = ['-r', file, ...extra, '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=a', '-E', `aggregator=${aggregator}`];
  const out = execFileSync('tshark', [...args, ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 << 20,
  });
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const values = line.split('|');
      return Object.fromEntries(fields.map((f, i) => [f, values[i] ?? '']));
    });
}

/** The header fields of every frame, each frame on its own: no reassembly moves a transport header to a later frame. */
function tsharkRows(file) {
  return tsharkFrames(file, FIELDS, ['-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-o', 'tcp.desegment_tcp_streams:FALSE']);
}

const first = (v) => (v === '' ? undefined : v.split(',')[0]);
const num = (v) => (first(v) === undefined ? undefined : Number(first(v)));

// Wireshark's PI_ERROR: "Bogus TCP header length", "total length exceeds packet length".
const PI_ERROR = 0x00800000;

/** Whether tshark found the frame malformed or in error, where it reads a cut-short header field by field. */
function broken(row) {
  return row['_ws.malformed'] !== '' || row['_ws.expert.severity'].split(',').some((s) => Number(s) >= PI_ERROR);
}

/**
 * What tshark says of one frame, layer by layer, in the view's terms; a layer tshark did
 * not find is absent.
 */
function fromTshark(row) {
  const out = {};
  if (row['eth.src']) out.link = { srcMac: first(row['eth.src']), dstMac: first(row['eth.dst']) };
  const vlan = num(row['ieee8021ad.id']) ?? num(row['vlan.id']);
  if (vlan !== undefined) out.vlan = vlan;
  if (row['sll.ifindex']) out.linkInterfaceIndex = num(row['sll.ifindex']);
  if (row['ip.src']) {
    out.ip = {
      srcAddress: first(row['ip.src']),
      dstAddress: first(row['ip.dst']),
      protocol: num(row['ip.proto']),
      ttl: num(row['ip.ttl']),
      ipId: num(row['ip.id']),
      moreFragments: first(row['ip.flags.mf']) === '1',
      fragmentOffset: num(row['ip.frag_offset']) * 8,
    };
  } else if (row['ipv6.src']) {
    out.ip = { srcAddress: first(row['ipv6.src']), dstAddress: first(row['ipv6.dst']), ttl: num(row['ipv6.hlim']) };
  }
  // ICMP first: an ICMP error quotes the datagram it is about, whose ports tshark also lists.
  if (row['icmp.type'] || row['icmpv6.type']) {
    const v6 = !row['icmp.type'];
    out.transport = { icmpType: num(row[v6 ? 'icmpv6.type' : 'icmp.type']), icmpCode: num(row[v6 ? 'icmpv6.code' : 'icmp.code']) };
  } else if (row['tcp.srcport']) {
    const kinds = row['tcp.option_kind'].split(',').filter(Boolean).map(Number);
    out.transport = {
      srcPort: num(row['tcp.srcport']),
      dstPort: num(row['tcp.dstport']),
      seq: num(row['tcp.seq_raw']),
      ack: num(row['tcp.ack_raw']),
      tcpFlags: num(row['tcp.flags']),
      window: num(row['tcp.window_size_value']),
      tcpHeaderLength: num(row['tcp.hdr_len']),
      mss: num(row['tcp.options.mss_val']) ?? -1,
      windowScale: num(row['tcp.options.wscale.shift']) ?? -1,
      sackPermitted: kinds.includes(4),
      tsVal: num(row['tcp.options.timestamp.tsval']) ?? -1,
      tsEcr: num(row['tcp.options.timestamp.tsecr']) ?? -1,
    };
  } else if (row['udp.srcport']) {
    out.transport = { srcPort: num(row['udp.srcport']), dstPort: num(row['udp.dstport']), udpLength: num(row['udp.length']) };
  }
  if (row['arp.opcode']) {
    out.arp = {
      arpOperation: num(row['arp.opcode']),
      arpSenderMac: first(row['arp.src.hw_mac']),
      arpSenderAddress: first(row['arp.src.proto_ipv4']),
      arpTargetMac: first(row['arp.dst.hw_mac']),
      arpTargetAddress: first(row['arp.dst.proto_ipv4']),
    };
  }
  return out;
}

/** The same picture from a HeaderView, for the fields tshark reports. */
function fromView(h) {
  const out = {};
  if (h.srcMac !== null) out.link = { srcMac: h.srcMac, dstMac: h.dstMac };
  if (h.vlan >= 0) out.vlan = h.vlan;
  if (h.linkInterfaceIndex >= 0) out.linkInterfaceIndex = h.linkInterfaceIndex;
  if (h.ipVersion === 4) {
    out.ip = {
      srcAddress: h.srcAddress,
      dstAddress: h.dstAddress,
      protocol: h.protocol,
      ttl: h.ttl,
      ipId: h.ipId,
      moreFragments: h.moreFragments,
      fragmentOffset: h.fragmentOffset,
    };
  } else if (h.ipVersion === 6) {
    out.ip = { srcAddress: h.srcAddress, dstAddress: h.dstAddress, ttl: h.ttl };
  }
  if (h.isTcp) {
    out.transport = {};
    for (const k of [
      'srcPort',
      'dstPort',
      'seq',
      'ack',
      'tcpFlags',
      'window',
      'tcpHeaderLength',
      'mss',
      'windowScale',
      'sackPermitted',
      'tsVal',
      'tsEcr',
    ]) {
      out.transport[k] = h[k];
    }
  } else if (h.isUdp) {
    out.transport = { srcPort: h.srcPort, dstPort: h.dstPort, udpLength: h.udpLength };
  } else if (h.icmpType >= 0) {
    out.transport = { icmpType: h.icmpType, icmpCode: h.icmpCode };
  }
  if (h.isArp) {
    out.arp = {};
    for (const k of ['arpOperation', 'arpSenderMac', 'arpSenderAddress', 'arpTargetMac', 'arpTargetAddress']) out.arp[k] = h[k];
  }
  return out;
}

module.exports = { tsharkFrames, tsharkRows, fromTshark, fromView, broken };

const STREAM_FIELDS = [
  'frame.len',
  'tcp.stream',
  'udp.stream',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  'icmp.type',
  'icmpv6.type',
  'tls.handshake.type',
  'tls.handshake.ciphersuite',
  'tls.handshake.extension.type',
  'tls.handshake.sig_hash_alg',
  'tls.handshake.extensions.supported_version',
  'tls.handshake.extensions_server_name',
  'tls.handshake.extensions_alpn_str',
  'tcp.analysis.retransmission',
  'tcp.analysis.fast_retransmission',
  'tcp.analysis.spurious_retransmission',
  'tcp.analysis.out_of_order',
  'tcp.analysis.lost_segment',
];

/**
 * tshark's conversations of `file` (its tcp.stream and udp.stream indexes): the
 * client (the first frame's sender), the server, frames, bytes, retransmitted or
 * reordered segments and segments after a gap each way, and the
 * ClientHello's fields where the stream carried one. ICMP errors, which quote a UDP
 * or TCP header, are left to ICMP.
 */
function tsharkStreams(file) {
  const streams = new Map();
  for (const v of tsharkFrames(file, STREAM_FIELDS)) {
    if (v['icmp.type'] || v['icmpv6.type']) continue;
    const tcp = v['tcp.stream'] !== '';
    if (!tcp && v['udp.stream'] === '') continue;
    const id = tcp ? `tcp ${v['tcp.stream']}` : `udp ${v['udp.stream']}`;
    const p = tcp ? 'tcp' : 'udp';
    const src = { address: first(v['ip.src']) ?? first(v['ipv6.src']), port: num(v[`${p}.srcport`]) };
    const dst = { address: first(v['ip.dst']) ?? first(v['ipv6.dst']), port: num(v[`${p}.dstport`]) };
    let s = streams.get(id);
    if (!s) {
      const counts = { packets: 0, bytes: 0, retransmissions: 0, gaps: 0 };
      s = { protocol: p, index: Number(v[`${p}.stream`]), client: { ...src, ...counts }, server: { ...dst, ...counts }, hello: null };
      streams.set(id, s);
    }
    const from = src.address === s.client.address && src.port === s.client.port ? s.client : s.server;
    from.packets++;
    from.bytes += Number(v['frame.len']);
    // Data sent again, or arriving after later data: what a flow counts as retransmitted.
    const again = ['retransmission', 'fast_retransmission', 'spurious_retransmission', 'out_of_order'];
    if (again.some((k) => v[`tcp.analysis.${k}`] !== '')) from.retransmissions++;
    if (v['tcp.analysis.lost_segment'] !== '') from.gaps++;
    if (v['tls.handshake.type'].split(',').includes('1') && !s.hello) {
      const list = (f) => v[f].split(',').filter(Boolean);
      s.hello = {
        ciphers: list('tls.handshake.ciphersuite').map(Number),
        extensions: list('tls.handshake.extension.type').map(Number),
        signatureAlgorithms: list('tls.handshake.sig_hash_alg').map(Number),
        versions: list('tls.handshake.extensions.supported_version').map(Number),
        sni: first(v['tls.handshake.extensions_server_name']) ?? null,
        alpn: list('tls.handshake.extensions_alpn_str'),
      };
    }
  }
  return [...streams.values()];
}

module.exports.tsharkStreams = tsharkStreams;

/**
 * tshark's "follow TCP stream" of every stream in `ids`: { client, server } bytes, the
 * client being the stream's first sender (Node 0). tshark stops at a gap it cannot fill.
 */
function tsharkFollow(file, ids) {
  const out = execFileSync('tshark', ['-r', file, '-q', ...ids.flatMap((id) => ['-z', `follow,tcp,raw,${id}`])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 << 20,
  });
  const result = new Map();
  for (const section of out.split(/^Follow: tcp,raw$/m).slice(1)) {
    const id = Number(/^Filter: tcp.stream eq (\d+)$/m.exec(section)[1]);
    const client = [];
    const server = [];
    for (const line of section.split('\n')) {
      if (!/^\t?[0-9a-f]+$/.test(line)) continue;
      (line.startsWith('\t') ? server : client).push(Buffer.from(line.trim(), 'hex'));
    }
    result.set(id, { client: Buffer.concat(client), server: Buffer.concat(server) });
  }
  return result;
}

module.exports.tsharkFollow = tsharkFollow;
