'use strict';
// How to start each capturer, and what it said at the end (captured, dropped).
const path = require('node:path');
const { IF_R } = require('./namespaces');
const { REJECT_FILTER } = require('./options');
const { kv } = require('./processes');

const NODE = process.execPath;

function capturerSpec(name, framegen) {
  const node = (script, ...args) => [NODE, path.join(__dirname, '..', 'capturers', script), ...args];
  switch (name) {
    case 'tcpdump':
      // libpcap's TPACKET_V3 blocks time out after tcpdump's 1 s; the kernel retires
      // a partly filled block within two timeouts.
      return { cmd: ['tcpdump', '-i', IF_R, '-nn', '-w', '/dev/null', 'udp'], ready: /listening on/, minDrainMs: 2200 };
    case 'cap':
      return { cmd: node('cap.js', IF_R, 'udp'), ready: /^ready/m, minDrainMs: 300, env: { TWB_FRAMEGEN: framegen } };
    case 'tcpdump-reject':
      return { cmd: ['tcpdump', '-i', IF_R, '-nn', '-w', '/dev/null', REJECT_FILTER], ready: /listening on/, minDrainMs: 2200 };
    default: {
      const m = /^tapwire-(ebpf|raw)(-zc)?(?:-(packets|reject|idle|latency|attribution|headers|flows))?$/.exec(name);
      if (!m) throw new Error(`unknown capturer ${name}`);
      const backend = m[1] === 'raw' ? 'raw-socket' : 'ebpf';
      const mode = ['packets', 'idle', 'latency', 'headers', 'flows'].includes(m[3]) ? m[3] : 'accessors';
      const filter = m[3] === 'reject' ? REJECT_FILTER : 'udp';
      const env = { ...(m[3] === 'attribution' && { TWB_ATTRIBUTION: '1' }), ...(m[2] && { TWB_ZERO_COPY: '1' }) };
      return { cmd: node('tapwire.js', mode, backend, IF_R, filter), ready: /^ready/m, minDrainMs: 300, env };
    }
  }
}

function parseCapturer(name, c) {
  if (name.startsWith('tcpdump')) {
    const num = (re) => {
      const m = re.exec(c.err);
      return m ? Number(m[1]) : null;
    };
    return {
      captured: num(/^(\d+) packets? captured/m),
      dropped: num(/^(\d+) packets? dropped by kernel/m),
      extra: { receivedByFilter: num(/^(\d+) packets? received by filter/m) },
    };
  }
  const line = `${c.out}\n${c.err}`
    .split('\n')
    .reverse()
    .find((l) => /\bcaptured=\d+/.test(l));
  if (!line) return { captured: null, dropped: null, extra: {} };
  const v = kv(line);
  const { captured, dropped, ...extra } = v;
  return { captured, dropped: dropped >= 0 ? dropped : null, extra };
}

module.exports = { capturerSpec, parseCapturer };
