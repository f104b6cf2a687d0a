/**
 * cgroup v2 directories for the `cgroup` option: a path is taken as given when absolute,
 * else under the cgroup v2 mount, and must be a directory of a cgroup v2 hierarchy
 * (the kernel attaches inet programs to v2 cgroups only).
 */
import fs from 'node:fs';
import path from 'node:path';
import { InvalidOptionError, NoSuchCgroupError } from './errors';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const CGROUP_SUPER_MAGIC = 0x27e0eb;

/** The cgroup v2 mounts in process `pid`'s mount namespace: where each is, and which directory of the tree it shows. */
function cgroup2Mounts(pid: number | 'self'): { root: string; point: string }[] {
  let mounts: string;
  try {
    mounts = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
  } catch {
    return [];
  }
  const found = [];
  for (const line of mounts.split('\n')) {
    // id parent major:minor root mountpoint options ... - fstype source superoptions
    const [before, after] = line.split(' - ');
    if (after?.split(' ')[0] !== 'cgroup2') continue;
    const fields = before!.split(' ');
    found.push({ root: fields[3]!.replace(/\\040/g, ' '), point: fields[4]!.replace(/\\040/g, ' ') });
  }
  return found;
}

/** Where cgroup v2 is mounted in this mount namespace, or undefined. */
export function cgroup2Mount(): string | undefined {
  return cgroup2Mounts('self')[0]?.point;
}

function parentOf(pid: number | 'self'): number {
  try {
    return Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * A path to the root of the cgroup v2 tree: its mount here, else the nearest ancestor
 * process's seen through /proc/PID/root (a process in a mount namespace of its own, as
 * `ip netns exec` makes, may have no cgroup v2 mounted; its parent has).
 */
export function cgroup2Root(): string | undefined {
  // A mount of a subtree (a bind mount of one cgroup) would hook that subtree only.
  const whole = (pid: number | 'self'): string | undefined => cgroup2Mounts(pid).find((m) => m.root === '/')?.point;
  const here = whole('self');
  if (here) return here;
  for (let pid = parentOf('self'); pid > 0; pid = pid === 1 ? 0 : parentOf(pid)) {
    const mount = whole(pid);
    if (mount === undefined) continue;
    const seen = path.join(`/proc/${pid}/root`, mount);
    try {
      fs.accessSync(seen, fs.constants.R_OK);
      return seen;
    } catch {
      // this ancestor's root is not ours to see: try the next
    }
  }
  return undefined;
}

/** The absolute path of the cgroup v2 directory `spec` names; throws a coded error if it names none. */
export function resolveCgroup(spec: unknown): string {
  if (typeof spec !== 'string' || spec === '' || spec.includes('\0')) {
    throw new InvalidOptionError(`cgroup must be the path of a cgroup v2 directory; got ${JSON.stringify(spec)}`);
  }
  let dir = spec;
  if (!path.isAbsolute(spec)) {
    const mount = cgroup2Mount();
    if (!mount) throw new NoSuchCgroupError(spec, 'cgroup v2 is not mounted here, and the path is relative to its mount');
    dir = path.join(mount, spec);
  }
  let stat;
  try {
    stat = fs.statfsSync(dir);
  } catch (err) {
    throw new NoSuchCgroupError(
      dir,
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'there is no such directory' : (err as Error).message,
      {
        cause: err,
      },
    );
  }
  if (stat.type === CGROUP_SUPER_MAGIC) throw new NoSuchCgroupError(dir, 'it is a cgroup v1 hierarchy; capturing a cgroup needs cgroup v2');
  if (stat.type !== CGROUP2_SUPER_MAGIC || !fs.statSync(dir).isDirectory())
    throw new NoSuchCgroupError(dir, 'it is not a cgroup directory');
  return dir;
}
