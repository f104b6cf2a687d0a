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
 * How this process sees the cgroup v2 tree: through its own mount (`prefix` ''), else
 * through the nearest ancestor process's root, /proc/PID/root (a process in a mount
 * namespace of its own, as `ip netns exec` makes, may have no cgroup v2 mounted; its
 * parent has). `mount` is where that process has the whole tree mounted.
 */
function cgroup2View(): { prefix: string; mount: string } | undefined {
  // A mount of a subtree (a bind mount of one cgroup) would hook that subtree only.
  const whole = (pid: number | 'self'): string | undefined => cgroup2Mounts(pid).find((m) => m.root === '/')?.point;
  const here = whole('self');
  if (here) return { prefix: '', mount: here };
  for (let pid = parentOf('self'); pid > 0; pid = pid === 1 ? 0 : parentOf(pid)) {
    const mount = whole(pid);
    if (mount === undefined) continue;
    const prefix = `/proc/${pid}/root`;
    try {
      fs.accessSync(path.join(prefix, mount), fs.constants.R_OK);
      return { prefix, mount };
    } catch {
      // this ancestor's root is not ours to see: try the next
    }
  }
  return undefined;
}

/** A path to the root of the cgroup v2 tree (see cgroup2View), or undefined. */
export function cgroup2Root(): string | undefined {
  const view = cgroup2View();
  return view && path.join(view.prefix, view.mount);
}

/** What to do where no cgroup v2 tree can be found: mount one. */
export const MOUNT_CGROUP2 =
  "cgroup v2 is mounted neither in this mount namespace nor in any ancestor process's that can be seen: " +
  'mount it (mount -t cgroup2 none /sys/fs/cgroup, or /sys/fs/cgroup/unified beside cgroup v1)';

/** The cgroup v2 directory this process is in (as cgroup2Root() reaches it); throws ERR_NO_SUCH_CGROUP if there is none. */
export function ownCgroup(): string {
  const root = cgroup2Root();
  if (!root) throw new NoSuchCgroupError('(none)', MOUNT_CGROUP2);
  const line = fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  if (!line) throw new NoSuchCgroupError(root, 'this process is in no cgroup v2 hierarchy');
  return path.join(root, line.slice(3));
}

/** Whether `dir` is a directory of a cgroup v2 hierarchy. */
function isCgroup2(dir: string): boolean {
  try {
    return fs.statfsSync(dir).type === CGROUP2_SUPER_MAGIC && fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** `dir` if it is a cgroup v2 directory; else the coded error that says what it is instead. */
function checked(dir: string, mounted: boolean): string {
  let stat;
  try {
    stat = fs.statfsSync(dir);
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? `there is no such directory${mounted ? '' : ` (${MOUNT_CGROUP2})`}`
        : (err as Error).message;
    throw new NoSuchCgroupError(dir, why, { cause: err });
  }
  if (stat.type === CGROUP_SUPER_MAGIC) throw new NoSuchCgroupError(dir, 'it is a cgroup v1 hierarchy; capturing a cgroup needs cgroup v2');
  if (stat.type !== CGROUP2_SUPER_MAGIC || !fs.statSync(dir).isDirectory())
    throw new NoSuchCgroupError(dir, 'it is not a cgroup directory');
  return dir;
}

/**
 * The path of the cgroup v2 directory `spec` names; throws a coded error if it names
 * none. A relative path is below the root of the tree. An absolute one is a directory
 * as this process sees it, else as the ancestor that has cgroup v2 mounted sees it (ip
 * netns exec), else a cgroup as /proc/PID/cgroup writes it ('/': the root, every process).
 */
export function resolveCgroup(spec: unknown): string {
  if (typeof spec !== 'string' || spec === '' || spec.includes('\0')) {
    throw new InvalidOptionError(`cgroup must be the path of a cgroup v2 directory; got ${JSON.stringify(spec)}`);
  }
  const view = cgroup2View();
  const tree = view && path.join(view.prefix, view.mount);
  if (!path.isAbsolute(spec)) {
    if (!tree) throw new NoSuchCgroupError(spec, `the path is relative to the cgroup v2 mount, and ${MOUNT_CGROUP2}`);
    return checked(path.resolve(tree, spec), true);
  }
  const below = (root: string): string => path.resolve(root, `.${spec}`);
  const seen = [spec, ...(view?.prefix ? [below(view.prefix)] : []), ...(tree ? [below(tree)] : [])];
  return seen.find(isCgroup2) ?? checked(spec, view !== undefined);
}
