/**
 * A packet's process in pcapng: an opt_comment in the form ptcpdump writes ("PID: …\nCmd:
 * …\nArgs: …", and "ContainerId: …"), which Wireshark shows as the packet's comments, and
 * a custom option (code 2988, UTF-8, copied by editors) with the whole record as JSON,
 * which tapwire reads back. Reading falls back to the comments, so ptcpdump's files give
 * their pids and commands too.
 */
import { ATTRIBUTIONS, type Attribution, type Container, type PacketProcess } from '../attribution/types';
import * as f from './format';

/** The custom option's Private Enterprise Number: IANA's for documentation (RFC 5612), as tapwire has none of its own. */
export const TAPWIRE_PEN = 32473;

export interface RecordedProcess {
  process: PacketProcess | null;
  peerProcess: PacketProcess | null;
  attribution: Attribution;
}

/** The most an option's value holds (its length is 16 bits). */
const MAX_OPTION = 0xffff;

/** ptcpdump's comment for a process. */
export function processComment(p: PacketProcess): string {
  const cmd = p.exe ?? p.comm ?? '';
  const args = p.cmdline ? p.cmdline.join(' ') : (p.comm ?? '');
  return `PID: ${p.pid ?? 0}\nCmd: ${cmd}\nArgs: ${args}`;
}

/** The EPB options (without opt_endofopt) for a packet's owner; empty when there is none. */
export function encodeProcessOptions(r: RecordedProcess): Buffer {
  if (r.process === null && r.peerProcess === null) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  // A comment too long for an option (arguments of 64 KiB: a Java classpath) is cut.
  if (r.process?.pid) parts.push(f.encodeOption(f.OPT_COMMENT, Buffer.from(processComment(r.process)).subarray(0, MAX_OPTION)));
  if (r.process?.container) parts.push(f.encodeOption(f.OPT_COMMENT, Buffer.from(`ContainerId: ${r.process.container.id}`)));
  let json = Buffer.from(JSON.stringify(r));
  if (json.length > MAX_OPTION - 4) {
    // The record stays whole JSON: the arguments go (the comment keeps their start).
    const lean = (p: PacketProcess | null): PacketProcess | null => (p ? { ...p, cmdline: null } : p);
    json = Buffer.from(JSON.stringify({ ...r, process: lean(r.process), peerProcess: lean(r.peerProcess) }));
  }
  if (json.length > MAX_OPTION - 4) return Buffer.concat(parts);
  const custom = Buffer.alloc(4 + json.length);
  custom.writeUInt32LE(TAPWIRE_PEN, 0);
  json.copy(custom, 4);
  parts.push(f.encodeOption(f.OPT_CUSTOM_UTF8, custom));
  return Buffer.concat(parts);
}

function asProcess(v: unknown): PacketProcess | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
  const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const container = o.container as Container | null | undefined;
  return Object.freeze({
    pid: num(o.pid),
    comm: str(o.comm),
    cgroupId: num(o.cgroupId) ?? 0,
    exe: str(o.exe),
    cmdline: Array.isArray(o.cmdline) ? o.cmdline.filter((a): a is string => typeof a === 'string') : null,
    container: container && typeof container.id === 'string' ? container : null,
  });
}

/** tapwire's custom option value (after the PEN), or null if it is not one. */
export function decodeCustom(value: Buffer): RecordedProcess | null {
  if (value.length < 4 || value.readUInt32LE(0) !== TAPWIRE_PEN) return null;
  try {
    const o = JSON.parse(value.toString('utf8', 4)) as Record<string, unknown>;
    const attribution = ATTRIBUTIONS.find((a) => a === o.attribution) ?? 'none';
    return { process: asProcess(o.process), peerProcess: asProcess(o.peerProcess), attribution };
  } catch {
    return null;
  }
}

/** A process from ptcpdump-form comments, or null if none says a PID. */
export function decodeComments(comments: readonly string[]): RecordedProcess | null {
  let pid: number | null = null;
  let cmd: string | null = null;
  let args: string | null = null;
  let containerId: string | null = null;
  for (const c of comments) {
    for (const line of c.split('\n')) {
      const [key, ...rest] = line.split(': ');
      const value = rest.join(': ');
      if (key === 'PID' && /^\d+$/.test(value)) pid = Number(value);
      else if (key === 'Cmd') cmd = value;
      else if (key === 'Args') args = value;
      else if (key === 'ContainerId' && value !== '') containerId = value;
    }
  }
  if (pid === null) return null;
  const comm = cmd === null ? null : (cmd.split('/').pop() ?? '').slice(0, 15);
  const process = Object.freeze({
    pid,
    comm,
    cgroupId: 0,
    exe: cmd !== null && cmd.startsWith('/') ? cmd : null,
    cmdline: args === null || args === '' ? null : args.split(' '),
    container: containerId === null ? null : { id: containerId, runtime: 'unknown' as const, podUid: null },
  });
  return { process, peerProcess: null, attribution: 'socket' };
}
