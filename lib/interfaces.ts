/**
 * This host's network interfaces: index and hardware type from the kernel, by name,
 * and names by index for capture files and `tapwire capture -D`.
 */
import fs from 'node:fs';
import { NoSuchInterfaceError } from './errors';
import { native } from './native';

const IFF_UP = 0x1;

export interface Interface {
  name: string;
  index: number;
  /** ARPHRD_* */
  hardwareType: number;
}

export interface HostInterface extends Interface {
  up: boolean;
}

export function resolveInterface(name: string): Interface {
  const info = native().interfaceInfo(name);
  if (info === null) throw new NoSuchInterfaceError(name);
  return { name, ...info };
}

/**
 * Calls `onGone` once, with the first of `watched` to go away (deleted, or moved to
 * another network namespace), unless stopped first. Returns the stop function.
 */
export function watchInterfaces(watched: readonly Interface[], onGone: (gone: Interface) => void): () => void {
  let stopped = false;
  const report = (indexes: Iterable<number>): void => {
    for (const index of indexes) {
      const gone = watched.find((i) => i.index === index);
      if (!gone || stopped) continue;
      stop();
      onGone(gone);
    }
  };
  const watch = new (native().LinkWatch)(
    watched.map((i) => i.index),
    (buffer, count) => report(new Uint32Array(buffer, 0, count)),
  );
  const stop = (): void => {
    stopped = true;
    watch.close();
  };
  // One may have gone between being looked up and being watched: say so on the next turn.
  const missing = watch.missing();
  if (missing.length > 0) setImmediate(() => report(missing));
  return stop;
}

/** Every interface of this network namespace now, by index. */
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
      const info = native().interfaceInfo(name);
      const flags = Number(fs.readFileSync(`/sys/class/net/${name}/flags`, 'utf8'));
      if (info) list.push({ name, ...info, up: (flags & IFF_UP) !== 0 });
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
