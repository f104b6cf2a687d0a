/**
 * This host's network interfaces: index and hardware type from the kernel, by name,
 * and names by index for capture files and `tapwire capture -D`.
 */
import { NoSuchInterfaceError } from './errors';
import { native } from './native';
import { within, type NetworkNamespace } from './netns';

export interface Interface {
  name: string;
  index: number;
  /** ARPHRD_* */
  hardwareType: number;
}

export interface HostInterface extends Interface {
  up: boolean;
}

export function resolveInterface(name: string, ns?: NetworkNamespace): Interface {
  const info = within(ns, () => native().interfaceInfo(name));
  if (info === null) throw new NoSuchInterfaceError(name, ns?.describe());
  return { name, index: info.index, hardwareType: info.hardwareType };
}

export type InterfaceChange = 'added' | 'removed';

/**
 * Reports interface changes in this network namespace (or `ns`) until stopped: each of
 * `known` that goes away, and with `follow` each interface that appears (and later
 * goes). Returns the stop function.
 */
function watch(
  known: readonly number[],
  follow: boolean,
  onChange: (change: InterfaceChange, index: number) => void,
  ns: NetworkNamespace | undefined,
): () => void {
  let stopped = false;
  const report = (pairs: ArrayLike<number>): void => {
    for (let i = 0; i + 1 < pairs.length && !stopped; i += 2) onChange(pairs[i] === 1 ? 'added' : 'removed', pairs[i + 1]!);
  };
  const link = within(
    ns,
    () => new (native().LinkWatch)([...known], (buffer, count) => report(new Uint32Array(buffer, 0, count * 2)), follow),
  );
  // Changes between the list being made and the watch starting: said on the next turn.
  const missed = link.rescan();
  if (missed.length > 0) setImmediate(() => report(missed));
  return () => {
    stopped = true;
    link.close();
  };
}

/**
 * Calls `onGone` once, with the first of `watched` to go away (deleted, or moved to
 * another network namespace), unless stopped first. Returns the stop function.
 */
export function watchInterfaces(watched: readonly Interface[], onGone: (gone: Interface) => void, ns?: NetworkNamespace): () => void {
  const stop = watch(
    watched.map((i) => i.index),
    false,
    (_change, index) => {
      const gone = watched.find((i) => i.index === index);
      if (!gone) return;
      stop();
      onGone(gone);
    },
    ns,
  );
  return stop;
}

/**
 * Follows the interfaces of this network namespace (or `ns`): `onChange` for each one
 * not in `known` that appears and for each that goes. Returns the stop function.
 */
export function followInterfaces(
  known: readonly number[],
  onChange: (change: InterfaceChange, index: number) => void,
  ns?: NetworkNamespace,
): () => void {
  return watch(known, true, onChange, ns);
}

/** Every interface of this network namespace (or of `ns`) now, by index. */
export function hostInterfaces(ns?: NetworkNamespace): HostInterface[] {
  return within(ns, () => native().interfaces()).sort((a, b) => a.index - b.index);
}

/** The interface with this index now, or undefined if it is gone (or its namespace is). */
export function interfaceAt(index: number, ns?: NetworkNamespace): HostInterface | undefined {
  try {
    return hostInterfaces(ns).find((i) => i.index === index);
  } catch {
    return undefined;
  }
}

/**
 * Interface names by index, in this network namespace or in `ns`. The names known when
 * it is made are kept, so packets are named after their capture has closed and let its
 * namespace go.
 */
export class InterfaceNames {
  readonly #ns: NetworkNamespace | undefined;
  #byIndex = new Map<number, string>();

  constructor(ns?: NetworkNamespace) {
    this.#ns = ns;
    if (ns) this.#refresh();
  }

  nameOf(index: number): string | undefined {
    // Linux hands out interface indexes without reuse, so a cached name stays right;
    // an index not seen yet means the table changed.
    if (!this.#byIndex.has(index)) this.#refresh();
    return this.#byIndex.get(index);
  }

  #refresh(): void {
    try {
      for (const i of hostInterfaces(this.#ns)) this.#byIndex.set(i.index, i.name);
    } catch {
      // A namespace given back names nothing new.
    }
  }
}

const here = new InterfaceNames();

/** The name of this host's interface `index`, or undefined if there is none. */
export function hostInterfaceName(index: number): string | undefined {
  return here.nameOf(index);
}
