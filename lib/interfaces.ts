/**
 * This host's network interfaces by index, from /sys/class/net: names for capture
 * files and for `tapwire capture -D`.
 */
import fs from 'node:fs';

const IFF_UP = 0x1;

export interface HostInterface {
  index: number;
  name: string;
  up: boolean;
}

export function hostInterfaces(): HostInterface[] {
  let names: string[];
  try {
    names = fs.readdirSync('/sys/class/net');
  } catch {
    return [];
  }
  const list: HostInterface[] = [];
  for (const name of names) {
    try {
      const index = Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
      const flags = Number(fs.readFileSync(`/sys/class/net/${name}/flags`, 'utf8'));
      list.push({ index, name, up: (flags & IFF_UP) !== 0 });
    } catch {
      // It went away while we looked.
    }
  }
  return list.sort((a, b) => a.index - b.index);
}

let byIndex = new Map<number, string>();

/** The name of this host's interface `index`, or undefined if there is none. */
export function hostInterfaceName(index: number): string | undefined {
  // Linux hands out interface indexes without reuse, so a cached name stays right;
  // an index not seen yet means the table changed.
  if (!byIndex.has(index)) byIndex = new Map(hostInterfaces().map((i) => [i.index, i.name]));
  return byIndex.get(index);
}
