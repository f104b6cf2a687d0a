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

/** Where cgroup v2 is mounted in this mount namespace, or undefined. */
export function cgroup2Mount(): string | undefined {
  let mounts: string;
  try {
    mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of mounts.split('\n')) {
    // id parent major:minor root mountpoint options ... - fstype source superoptions
    const [before, after] = line.split(' - ');
    if (after?.split(' ')[0] === 'cgroup2') return before!.split(' ')[4]?.replace(/\\040/g, ' ');
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
