/**
 * Network namespaces a capture runs in. A namespace is held open by a descriptor for
 * as long as the capture uses it, so it cannot be freed under it; the kernel objects
 * of the capture (packet sockets, tcx links, netlink watches) are made inside it, by
 * `run`, and stay bound to it, while this process's threads stay where they are.
 */
import fs from 'node:fs';
import os from 'node:os';
import { ClosedError, fromNative, InvalidOptionError, NoSuchNamespaceError, PermissionError } from './errors';
import { native } from './native';

/** What `netns` takes: a path (`/run/netns/NAME`, `/proc/PID/ns/net`), a name under /run/netns, or a pid. */
export type NamespaceSpec = string | number;

const { EINVAL } = os.constants.errno;

/** The path a spec names; throws ERR_INVALID_OPTION for what cannot name one. */
export function namespacePath(spec: NamespaceSpec): string {
  if (typeof spec === 'number') {
    if (!Number.isSafeInteger(spec) || spec <= 0) throw new InvalidOptionError(`netns: a pid is a positive integer, not ${spec}`);
    return `/proc/${spec}/ns/net`;
  }
  if (typeof spec !== 'string' || spec === '' || spec.includes('\0')) {
    throw new InvalidOptionError(`netns: expected a path, a name under /run/netns or a pid, not ${JSON.stringify(spec)}`);
  }
  return spec.includes('/') ? spec : `/run/netns/${spec}`;
}

/** Runs `fn` in `ns`, or where this thread is when there is none. */
export function within<T>(ns: NetworkNamespace | undefined, fn: () => T): T {
  return ns ? ns.run(fn) : fn();
}

export class NetworkNamespace {
  readonly path: string;
  /** The namespace's inode: what `ip netns identify` and /proc/PID/ns/net's link show as net:[N]. */
  readonly inode: number;
  #fd: number;

  private constructor(path: string, fd: number, inode: number) {
    this.path = path;
    this.#fd = fd;
    this.inode = inode;
  }

  /** The namespace of a resolved `netns` option (its path), or undefined for this one. */
  static openOption(path: string | null): NetworkNamespace | undefined {
    return path === null ? undefined : NetworkNamespace.open(path);
  }

  /** Opens the namespace a spec names, checking that it is one this process may enter. */
  static open(spec: NamespaceSpec): NetworkNamespace {
    const path = namespacePath(spec);
    let fd: number;
    try {
      fd = fs.openSync(path, 'r'); // Node opens every file close-on-exec
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        const pid = /^\/proc\/(\d+)\/ns\/net$/.exec(path)?.[1];
        throw new NoSuchNamespaceError(path, pid ? `there is no process ${pid}` : 'there is no such file', { cause: err });
      }
      throw new PermissionError(`cannot open the network namespace ${path}: ${(err as Error).message}`, { cause: err });
    }
    const ns = new NetworkNamespace(path, fd, fs.fstatSync(fd).ino);
    try {
      ns.run(() => undefined);
    } catch (err) {
      ns.close();
      const errno = (err as { errno?: number }).errno;
      if (errno === EINVAL) throw new NoSuchNamespaceError(path, 'not a network namespace', { cause: err });
      throw fromNative(err, `cannot enter the network namespace ${path}`, 'CAP_SYS_ADMIN');
    }
    return ns;
  }

  /** Runs `fn` on this thread inside the namespace (synchronously: nothing else runs meanwhile). */
  run<T>(fn: () => T): T {
    if (this.#fd < 0) throw new ClosedError(`network namespace ${this.path}`);
    return native().inNetns(this.#fd, fn);
  }

  /** How capture files describe the interfaces of this namespace. */
  describe(): string {
    return `network namespace ${this.path} (net:[${this.inode}])`;
  }

  close(): void {
    if (this.#fd < 0) return;
    fs.closeSync(this.#fd);
    this.#fd = -1;
  }
}
