/**
 * The attribution vocabulary: how a packet's process was found, the process, its
 * container, and the per-batch reader of owners a Batch holds. Types and constants
 * only, so lib/batch.ts, the readers of kernel records (owners.ts) and of files
 * (lib/pcapng/process-options.ts) share it without importing one another.
 */

/**
 * How a packet's process was found: `'socket'`, the owner recorded for the socket the
 * packet carries (what a socket sends; both ways at a cgroup); `'tuple'`, the owner
 * recorded for the socket its addresses and ports lead to (what arrives at an
 * interface, looked up as the stack will deliver it); `'cgroup'`, the socket's cgroup
 * only; `'none'`, no owner.
 */
export type Attribution = 'socket' | 'tuple' | 'cgroup' | 'none';
export const ATTRIBUTIONS: readonly Attribution[] = ['socket', 'tuple', 'cgroup', 'none'];

export interface Container {
  /** The container's id, 64 hex digits. */
  id: string;
  runtime: 'docker' | 'containerd' | 'cri-o' | 'podman' | 'unknown';
  /** The Kubernetes pod's uid, when the path is under kubepods. */
  podUid: string | null;
}

/** Who sent or received a packet. */
export interface PacketProcess {
  /** The owner's process id (thread group id), in the root pid namespace; null where only the cgroup is known. */
  readonly pid: number | null;
  /** Its command name (16 bytes at most), as the kernel recorded it when it used the socket. */
  readonly comm: string | null;
  /** Its cgroup v2 id (the cgroup directory's inode number). */
  readonly cgroupId: number;
  /** Its executable, from /proc; null once the process has gone or where /proc will not say. */
  readonly exe: string | null;
  /** Its arguments, from /proc; null as for `exe`. */
  readonly cmdline: readonly string[] | null;
  /** The container its cgroup path names, or null. */
  readonly container: Container | null;
}

/** @internal Who owns each packet of a batch, for captures that attribute packets. */
export interface Owners {
  processAt(i: number): PacketProcess | null;
  peerAt(i: number): PacketProcess | null;
  attributionAt(i: number): Attribution;
}
