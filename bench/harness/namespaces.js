'use strict';
// The two network namespaces the benchmark runs in, joined by a veth pair, with
// nothing on the link but the frames the generator counts.
const { execFileSync } = require('node:child_process');
const { log } = require('./log');
const { run } = require('./processes');

const NS_S = `twbs-${process.pid}`;
const NS_R = `twbr-${process.pid}`;
const IF_S = 'twbs0';
const IF_R = 'twbr0';
const MAC_S = '02:74:77:62:00:01';
const MAC_R = '02:74:77:62:00:02';
const IP_S = '198.18.0.1';
const IP_R = '198.18.0.2';
const PORT = 9; // discard

const ipn = (ns, ...args) => run('ip', ['-n', ns, ...args]);
const nsExec = (ns, ...args) => run('ip', ['netns', 'exec', ns, ...args]);

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function removeStaleNamespaces() {
  let names = [];
  try {
    names = run('ip', ['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0]);
  } catch {
    return;
  }
  for (const ns of names) {
    const m = /^twb[sr]-(\d+)$/.exec(ns);
    if (!m || alive(Number(m[1]))) continue;
    log(`removing namespace ${ns} left by an earlier run (pid ${m[1]} is gone)`);
    try {
      // only processes an earlier run of this benchmark started live in it
      for (const p of run('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      run('ip', ['netns', 'del', ns]);
    } catch (e) {
      log(`could not remove ${ns}: ${e.message}`);
    }
  }
}

function setupNetwork() {
  run('ip', ['netns', 'add', NS_S]);
  run('ip', ['netns', 'add', NS_R]);
  for (const ns of [NS_S, NS_R]) {
    // No IPv6: no neighbour discovery, router solicitation or MLD frames, so the
    // only frames on the link are the ones the generator counted.
    nsExec(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    ipn(ns, 'link', 'set', 'lo', 'up');
  }
  ipn(NS_S, 'link', 'add', IF_S, 'address', MAC_S, 'type', 'veth', 'peer', 'name', IF_R, 'netns', NS_R, 'address', MAC_R);
  for (const [ns, dev] of [
    [NS_S, IF_S],
    [NS_R, IF_R],
  ]) {
    nsExec(ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`);
  }
  ipn(NS_S, 'addr', 'add', `${IP_S}/30`, 'dev', IF_S);
  ipn(NS_R, 'addr', 'add', `${IP_R}/30`, 'dev', IF_R);
  // Static neighbours: no ARP exchange on the link, ever.
  ipn(NS_S, 'neigh', 'replace', IP_R, 'lladdr', MAC_R, 'dev', IF_S, 'nud', 'permanent');
  ipn(NS_R, 'neigh', 'replace', IP_S, 'lladdr', MAC_S, 'dev', IF_R, 'nud', 'permanent');
  ipn(NS_S, 'link', 'set', IF_S, 'up');
  ipn(NS_R, 'link', 'set', IF_R, 'up');
}

function linkCounters(ns, dev) {
  const j = JSON.parse(ipn(ns, '-s', '-j', 'link', 'show', 'dev', dev))[0].stats64;
  return { rx: j.rx.packets, rxDropped: j.rx.dropped, tx: j.tx.packets, txDropped: j.tx.dropped };
}

/** Removes this run's namespaces (and with them the veth pair), if they are there. */
function removeNamespaces() {
  for (const ns of [NS_S, NS_R]) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      /* not there */
    }
  }
}

module.exports = {
  NS_S,
  NS_R,
  IF_S,
  IF_R,
  MAC_S,
  MAC_R,
  IP_S,
  IP_R,
  PORT,
  removeStaleNamespaces,
  setupNetwork,
  linkCounters,
  removeNamespaces,
};
