'use strict';
// The eBPF backend runs pcap filters translated from libpcap's classic BPF. Here this
// kernel's verifier loads each translated program in every form the backend uses, the
// kernel runs it (BPF_PROG_TEST_RUN) over a corpus of frames, and every verdict is
// compared with libpcap's own bpf_filter() on the same bytes.
const assert = require('node:assert/strict');
const { native } = require('../dist/native');
const { requirePrivileges } = require('./helpers/privileged');
const { corpus } = require('./helpers/corpus');

const DLT_EN10MB = 1;
const EXPRESSIONS = [
  'ip',
  'ip6',
  'arp',
  'tcp',
  'udp',
  'icmp',
  'icmp6',
  'vlan',
  'vlan 100',
  'vlan and ip',
  'vlan and udp port 53',
  'vlan 300 and vlan 100',
  'tcp port 80',
  'udp port 53',
  'port 443',
  'src port 1024',
  'dst port 22',
  'portrange 1000-2000',
  'tcp dst portrange 8000-8100',
  'host 10.0.0.1',
  'src host 10.0.0.2',
  'dst host 10.0.0.3',
  'net 10.0.0.0/24',
  'src net 192.168.0.0/16',
  'ip6 host 2001:db8::1',
  'ip6 net 2001:db8::/64',
  'ether host 02:00:00:00:00:01',
  'ether src 02:00:00:00:00:02',
  'ether dst ff:ff:ff:ff:ff:ff',
  'ether broadcast',
  'ether multicast',
  'ip multicast',
  'ip6 multicast',
  'greater 100',
  'less 80',
  'len > 200',
  'len = 60',
  'ip[8] < 64',
  'ip[6:2] & 0x3fff != 0',
  'ip[6] & 0x20 != 0',
  'tcp[tcpflags] & tcp-syn != 0',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn',
  'tcp[13] = 18',
  'udp[4:2] > 100',
  'icmp[icmptype] = icmp-echo',
  'icmp[0] = 8 or icmp[0] = 0',
  'ip proto 47',
  'ip proto 132',
  'proto gre',
  'ip6 proto 17',
  'ip6 and tcp port 80',
  'tcp and (port 80 or port 443)',
  'not tcp',
  'not (udp or icmp)',
  'ip and not net 10.0.0.0/8',
  'tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420',
  'ip[0] & 0xf != 5',
  'udp and ip[2:2] - ((ip[0] & 0xf) << 2) - 8 > 50',
  'ether[12:2] = 0x0806',
  'ether proto 0x88cc',
  'arp and arp[6:2] = 1',
  'ip6[6] = 58',
  'tcp port 80 and tcp[tcpflags] & tcp-push != 0',
  'ip[2:2] * 2 > 300',
  'ip[2:2] / 4 > 10',
  'ip[2:2] % 7 = 3',
  'ip[2:2] ^ 0xff > 100',
  'ip[2:2] >> 1 > 100',
  'ip[2:2] << 1 > 500',
  '(ip[2:2] | 1) = 61',
  'ip[2:2] / (ip[8] & 0x7) > 10',
  'ip[2:2] % (ip[9] - 6) = 0',
  'ip[ip[0] & 0xf] > 7',
  'udp[ip[9] - 10] = 0',
  'icmp6 and ip6[40] = 128',
  'tcp[20:4] = 0x47455420 or udp[8] = 0',
];

// How the eBPF backend runs a filter: at tcx with direct packet reads (the helper beyond
// the linear part), at tcx without CAP_PERFMON (helper only), and as a socket filter,
// whose reads are the helper's too. A socket filter's test run starts the packet at its
// network header, where a packet socket starts it at the link layer: that form is only
// loaded, and its reads are judged in the 'tc' form.
const FORMS = ['tc-direct', 'tc'];

describe('pcap filters translated to eBPF, against libpcap', function () {
  let frames;

  before(async function () {
    await requirePrivileges(this);
    frames = corpus();
  });

  for (const [i, expression] of EXPRESSIONS.entries()) {
    // Two snap lengths: the accept value must come through, not just "accepted".
    const snaplen = i % 2 ? 262144 : 96;
    it(`${expression}: the kernel loads it in every form, and agrees with libpcap on every frame`, async function () {
      const program = await native().compileFilter(expression, DLT_EN10MB, snaplen);
      let compared = 0;
      for (const form of FORMS) {
        const ours = native().filterVerdicts(program, frames, form);
        frames.forEach((frame, j) => {
          if (ours[j] === null) return;
          const reference = native().matchFilter(program, frame, frame.length);
          assert.equal(ours[j], reference, `${form}: frame ${j} (${frame.toString('hex')})`);
          compared++;
        });
      }
      // The kernel builds a test skb from nearly every frame.
      assert.ok(compared > FORMS.length * frames.length * 0.95, `only ${compared} verdicts compared`);
      assert.deepEqual(native().filterVerdicts(program, [], 'socket'), [], 'the socket-filter form loads');
    });
  }

  it('the corpus decides: most expressions both accept and reject some of its frames', async function () {
    const programs = await Promise.all(EXPRESSIONS.map((expression) => native().compileFilter(expression, DLT_EN10MB, 96)));
    const decisive = programs.filter((program) => {
      const accepted = frames.filter((f) => native().matchFilter(program, f, f.length) > 0).length;
      return accepted > 0 && accepted < frames.length;
    });
    assert.ok(decisive.length >= EXPRESSIONS.length * 0.8, `only ${decisive.length} expressions both accepted and rejected frames`);
  });

  it('refuses programs with no eBPF form with a clear error', async function () {
    // ld #ifindex: a Linux ancillary load libpcap only emits for live handles.
    const ancillary = Buffer.from([0x20, 0, 0, 0, 0x08, 0xf0, 0xff, 0xff, 0x06, 0, 0, 0, 0xff, 0xff, 0, 0]);
    assert.throws(() => native().filterVerdicts(ancillary, frames.slice(0, 1), 'tc-direct'), /ancillary/);
    const loop = await native().compileFilter('ip protochain 17', DLT_EN10MB, 96);
    assert.throws(() => native().filterVerdicts(loop, frames.slice(0, 1), 'socket'), /jumps backwards/);
  });
});
