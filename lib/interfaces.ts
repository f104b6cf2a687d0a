/**
 * This host's network interfaces: index and hardware type from the kernel, by name,
 * and names by index for capture files and `tapwire capture -D`.
 */
import { NoSuchInterfaceError } from './errors';
import { native } from './native';
import type { NetworkNamespace } from './netns';

export interface Interface {
  name: string;
  index: number;
  /** ARPHRD_* */
  hardwareType: number;
}

export interface HostInterface extends Interface {
  up: boolean;
}

/** Runs `fn` in `ns`, or here when there is none. */
function within<T>(ns: NetworkNamespace | undefined, fn: () => T): T {
  return ns ? ns.run(fn) : fn();
}

export function resolveInterface(name: string, ns?: NetworkNamespace): Interface {
  const info = within(ns, () => native().interfaceInfo(name));
  if (info === null) throw new NoSuchInterfaceError(name, ns?.describe());
  return { name, index: info.index, hardwareType: info.hardwareType };
}

/**
 * Calls `onGone` once, with the first of `watched` to go away (deleted, or moved to
 * another network namespace), unless stopped first. Returns the stop function.
 */
export function watchInterfaces(watched: readonly Interface[], onGone: (gone: Interface) => void, ns?: NetworkNamespace): () => void {
  let stopped = false;
  const report = (indexes: Iterable<number>): void => {
    for (const index of indexes) {
      const gone = watched.find((i) => i.index === index);
      if (!gone || stopped) continue;
      stop();
      onGone(gone);
    }
  };
  const watch = within(
    ns,
    () =>
      new (native().LinkWatch)(
        watched.map((i) => i.index),
        (buffer, count) => report(new Uint32Array(buffer, 0, count)),
      ),
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

/** Every interface of this network namespace (or of `ns`) now, by index. */
export function hostInterfaces(ns?: NetworkNamespace): HostInterface[] {
  return within(ns, () => native().interfaces()).sort((a, b) => a.index - b.index);
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
