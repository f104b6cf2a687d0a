/**
 * The container a cgroup v2 path belongs to, where the path names one: the runtimes
 * put each container in a cgroup named for its id (64 hex digits), and Kubernetes puts
 * that under a cgroup named for the pod.
 */
import type { Container } from './types';

// systemd driver: <prefix>-<id>.scope; cgroupfs driver: /<prefix>/<id> or a bare /<id>.
const SCOPE = /^(docker|cri-containerd|crio|libpod)-([0-9a-f]{64})\.scope$/;
const BARE = /^[0-9a-f]{64}$/;
const RUNTIMES: Record<string, Container['runtime']> = {
  docker: 'docker',
  'cri-containerd': 'containerd',
  containerd: 'containerd',
  crio: 'cri-o',
  libpod: 'podman',
};
// kubepods-burstable-pod<uid>.slice (systemd: dashes as underscores) or pod<uid> (cgroupfs).
const POD = /^(?:kubepods.*-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

/** The container `cgroupPath` (as /proc/PID/cgroup gives it) names, or null. */
export function containerOf(cgroupPath: string): Container | null {
  const parts = cgroupPath.split('/').filter((p) => p !== '');
  let podUid: string | null = null;
  let found: Container | null = null;
  for (const [i, part] of parts.entries()) {
    const pod = POD.exec(part);
    if (pod) podUid = pod[1]!.replace(/_/g, '-');
    const scope = SCOPE.exec(part);
    if (scope) found = { id: scope[2]!, runtime: RUNTIMES[scope[1]!]!, podUid: null };
    else if (BARE.test(part)) found = { id: part, runtime: RUNTIMES[parts[i - 1] ?? ''] ?? 'unknown', podUid: null };
  }
  if (!found) return null;
  if (podUid !== null) found.podUid = podUid;
  return found;
}
