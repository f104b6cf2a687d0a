/**
 * The TCP connection under a socket fd of another process, from /proc: the fd's socket
 * inode, looked up in that process's /proc/PID/net/tcp and tcp6.
 */
import fs from 'node:fs';

export interface Endpoint {
  address: string;
  port: number;
}

export interface Connection {
  protocol: 'tcp';
  local: Endpoint;
  remote: Endpoint;
}

function ipv4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
}

function ipv6(hex: string): string {
  // Four 32-bit words, each in host (little-endian) order.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') return ipv4(hex.slice(24));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function endpoint(field: string, v6: boolean): Endpoint {
  const [addr, port] = field.split(':');
  return { address: v6 ? ipv6(addr!) : ipv4(addr!), port: parseInt(port!, 16) };
}

export function connectionOf(pid: number, fd: number): Connection | undefined {
  let link: string;
  try {
    link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return undefined; // closed already, or the process is gone
  }
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
  if (!inode) return undefined;
  for (const [file, v6] of [
    ['tcp', false],
    ['tcp6', true],
  ] as const) {
    let table: string;
    try {
      table = fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[9] === inode) return { protocol: 'tcp', local: endpoint(f[1]!, v6), remote: endpoint(f[2]!, v6) };
    }
  }
  return undefined;
}
