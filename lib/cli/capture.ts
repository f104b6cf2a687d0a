/**
 * `tapwire capture`: tcpdump's flags over openCapturer(). Packets go to a pcapng (or
 * classic pcap) file or stdout, or are printed one line each; a terminal shows a live
 * counter; SIGINT and SIGTERM finish the file before exiting.
 */
import os from 'node:os';
import type { PacketProcess } from '../attribution/types';
import type { Batch } from '../batch';
import type { Capturer } from '../capturer';
import { quoteFilter } from '../filter';
import { hostInterfaces } from '../interfaces';
import { NetworkNamespace } from '../netns';
import { openCapturer } from '../open';
import { captureCommand, type CommandCapture } from '../command';
import type { CaptureOptions } from '../options';
import { PcapngWriter, PcapWriter, RotatingWriter, type CaptureFileWriter, type UpperPdu } from '../pcapng';
import { MAX_SNAPLEN } from '../snaplen';
import type { TlsPlugin } from '../plugins/tls';
import type { TlsOption } from '../tls';
import { integerArg, last, parseArgs, sizeArg, UsageError, type Parsed } from './args';
import { describePacket } from '../describe';
import { copySecrets, HoldBack, KeyLogFile } from './keys';
import { StatusLine } from './status';

export const CAPTURE_USAGE = `usage: tapwire capture [-nD] [-i INTERFACE]... [-c COUNT] [-s SNAPLEN] [-B KIB] [-Q in|out|inout]
                        [-w FILE|- [--pcap] [-C SIZE] [-G SECONDS] [-W COUNT]] [-r FILE|-]
                        [--netns NAME|PATH|PID | --cgroup PATH] [--backend auto|ebpf|raw-socket] [--zero-copy]
                        [--tls[=auto|required]] [--embed-keys] [--keylog FILE]
                        [-P] [--pid PID]... [--comm NAME]...
                        [-f FILTER | EXPRESSION] [-- COMMAND [ARGS...]]`;

const SPEC = {
  valued: 'icswrfQCGWB',
  flags: 'nDhP',
  longValued: ['backend', 'netns', 'cgroup', 'pid', 'comm', 'keylog'],
  longOptional: ['tls'],
  longFlags: ['pcap', 'help', 'process', 'embed-keys', 'zero-copy'],
  hints: {
    interface: 'i',
    count: 'c',
    'snapshot-length': 's',
    snaplen: 's',
    'buffer-size': 'B',
    direction: 'Q',
    'list-interfaces': 'D',
    filter: 'f',
    read: 'r',
    write: 'w',
  },
};

type Direction = 'in' | 'out';

interface Command {
  help: boolean;
  listInterfaces: boolean;
  options: CaptureOptions;
  /** What is captured, for the message that says so. */
  describe: string;
  count: number;
  direction: Direction | undefined;
  write: string | undefined;
  pcap: boolean;
  /** -C, -G, -W: turn -w's file over (tcpdump's units: -C in millions of bytes). */
  rotate: { maxBytes?: number; interval?: number; maxFiles?: number } | undefined;
  /** Whether lines name the interface and direction (several interfaces). */
  perInterface: boolean;
  /** -- COMMAND ARGS: run it, capturing its traffic only, and exit with its code. */
  run: string[] | undefined;
  /** -P: each line names the packet's process. */
  showProcess: boolean;
  /** --pid, --comm: only packets whose process (or, on loopback, other end) is one of these. */
  owners: { pids: Set<number>; comms: Set<string> } | undefined;
  /** --tls was given: the plaintext is written or printed. */
  tlsData: boolean;
  /** --embed-keys: TLS secrets into the pcapng file of -w. */
  embedKeys: boolean;
  /** --keylog FILE: TLS secrets appended to this NSS key log. */
  keylog: string | undefined;
}

function ownerSelection(parsed: Parsed): Command['owners'] {
  const pids = parsed.options.get('pid') ?? [];
  const comms = parsed.options.get('comm') ?? [];
  if (pids.length === 0 && comms.length === 0) return undefined;
  for (const p of pids) if (!/^[1-9][0-9]*$/.test(p)) throw new UsageError(`--pid needs a process id; got ${JSON.stringify(p)}`);
  for (const c of comms) if (c === '') throw new UsageError('--comm needs a command name');
  // The kernel keeps 15 bytes of a command name.
  return { pids: new Set(pids.map(Number)), comms: new Set(comms.map((c) => c.slice(0, 15))) };
}

function ownedBy(p: PacketProcess | null, owners: NonNullable<Command['owners']>): boolean {
  return p !== null && ((p.pid !== null && owners.pids.has(p.pid)) || (p.comm !== null && owners.comms.has(p.comm)));
}

function processText(p: PacketProcess | null): string {
  return p === null ? '?' : p.pid === null ? `cgroup ${p.cgroupId}` : `${p.pid} (${p.comm ?? '?'})`;
}

export function tlsOption(parsed: Parsed): TlsOption | undefined {
  const value = last(parsed, 'tls');
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'auto') return 'auto';
  if (value === 'required') return 'required';
  throw new UsageError(`--tls takes auto or required; got ${JSON.stringify(value)}`);
}

function command(all: readonly string[]): Command {
  const dash = all.indexOf('--');
  const argv = dash < 0 ? all : all.slice(0, dash);
  const run = dash < 0 ? undefined : all.slice(dash + 1);
  if (run !== undefined && run.length === 0) throw new UsageError('-- must be followed by the command to run');
  const parsed = parseArgs(argv, SPEC);
  const flag = (name: string): boolean => parsed.options.has(name);
  const filterFlag = last(parsed, 'f');
  const expression = parsed.positional.join(' ');
  if (filterFlag !== undefined && expression !== '') {
    throw new UsageError(
      `give the filter with -f or as an expression after the flags, not both (got -f ${quoteFilter(filterFlag)} and ${quoteFilter(expression)})`,
    );
  }
  const q = last(parsed, 'Q');
  if (q !== undefined && !['in', 'out', 'inout'].includes(q)) throw new UsageError(`-Q takes in, out or inout; got ${JSON.stringify(q)}`);
  const snaplen = integerArg(parsed, 's', '-s', 0);
  // tcpdump's -B: the kernel's buffer, in KiB.
  const bufferKiB = integerArg(parsed, 'B', '-B', 1);
  const read = last(parsed, 'r');
  const interfaces = parsed.options.get('i');
  const owners = ownerSelection(parsed);
  const showProcess = flag('P') || flag('process');
  const netns = last(parsed, 'netns');
  const embedKeys = flag('embed-keys');
  const keylog = last(parsed, 'keylog');
  if (embedKeys && (last(parsed, 'w') === undefined || flag('pcap')))
    throw new UsageError('--embed-keys writes the keys into the pcapng file of -w');
  if (keylog === '') throw new UsageError('--keylog needs a file name');
  if (embedKeys && read !== undefined) throw new UsageError('--embed-keys takes the keys of a live capture, not of -r');
  // With -r, --keylog writes out the secrets the file holds.
  const keys = read === undefined && (embedKeys || keylog !== undefined);
  const tls = tlsOption(parsed);
  const options: CaptureOptions = {
    filter: filterFlag ?? expression,
    // tcpdump's -s 0: the largest snapshot.
    snaplen: snaplen === 0 ? undefined : snaplen,
    bufferSize: bufferKiB === undefined ? undefined : bufferKiB * 1024,
    interfaces,
    backend: last(parsed, 'backend') as CaptureOptions['backend'],
    zeroCopy: flag('zero-copy') ? true : undefined,
    // The keys come from the TLS plugin: they imply --tls.
    tls: keys ? { mode: tls === 'required' ? 'required' : 'auto', keys: true } : tls,
    // All digits: a pid, as in nsenter -t; anything else names the namespace or its path.
    netns: netns !== undefined && /^[0-9]+$/.test(netns) ? Number(netns) : netns,
    cgroup: last(parsed, 'cgroup'),
    // A file says what it recorded; a live capture asks the kernel.
    attribution: read === undefined && (showProcess || owners !== undefined) ? true : undefined,
  };
  if (run !== undefined) {
    const clash = (['interfaces', 'netns', 'cgroup'] as const).filter((k) => options[k] !== undefined);
    if (clash.length > 0 || read !== undefined) {
      throw new UsageError(
        `-- COMMAND captures the command's own traffic: it cannot be combined with ${read !== undefined ? '-r' : clash.map((k) => (k === 'interfaces' ? '-i' : `--${k}`)).join(', ')}`,
      );
    }
  }
  if (read !== undefined) options.file = read === '-' ? '/dev/stdin' : read;
  const everyInterface = interfaces === undefined || interfaces.includes('any');
  return {
    help: flag('h') || flag('help'),
    listInterfaces: flag('D'),
    options,
    describe:
      run !== undefined
        ? `the traffic of ${run.join(' ')}`
        : (read !== undefined ? `file ${read}` : everyInterface ? 'every interface' : interfaces.join(', ')) +
          (options.netns !== undefined ? ` in network namespace ${netns}` : '') +
          (options.cgroup !== undefined ? ` of the cgroup ${options.cgroup}` : ''),
    count: integerArg(parsed, 'c', '-c', 1) ?? Infinity,
    direction: q === 'in' || q === 'out' ? q : undefined,
    write: last(parsed, 'w'),
    pcap: flag('pcap'),
    rotate: rotation(parsed),
    perInterface: read === undefined && (everyInterface || interfaces.length > 1),
    run,
    showProcess,
    owners,
    embedKeys,
    keylog,
    tlsData: tls !== undefined,
  };
}

function rotation(parsed: Parsed): Command['rotate'] {
  const maxBytes = sizeArg(parsed, 'C', '-C');
  const interval = integerArg(parsed, 'G', '-G', 1);
  const maxFiles = integerArg(parsed, 'W', '-W', 1);
  if (maxBytes === undefined && interval === undefined) {
    if (maxFiles !== undefined) throw new UsageError('-W works with -C or -G');
    return undefined;
  }
  const write = last(parsed, 'w');
  if (write === undefined || write === '-') throw new UsageError('-C and -G turn over the file of -w, which must name a file');
  return { maxBytes, interval, maxFiles };
}

function listInterfaces(netns: CaptureOptions['netns']): void {
  const ns = netns === undefined ? undefined : NetworkNamespace.open(netns);
  let list;
  try {
    list = hostInterfaces(ns);
  } finally {
    ns?.close();
  }
  for (const i of list) {
    process.stdout.write(`${i.index}.${i.name}${i.up ? ' [Up]' : ''}\n`);
  }
}

function clock(seconds: number, nanoseconds: number): string {
  const d = new Date(seconds * 1000);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(Math.floor(nanoseconds / 1000)).padStart(6, '0')}`;
}

function lines(cap: Capturer, batch: Batch, picked: readonly number[], perInterface: boolean, showProcess: boolean): string {
  let text = '';
  for (const i of picked) {
    const where = perInterface
      ? `${cap.interfaceName(batch.interfaceIndexAt(i)) ?? `if${batch.interfaceIndexAt(i)}`} ${batch.directionAt(i) === 'out' ? 'Out' : 'In '} `
      : '';
    let owner = '';
    if (showProcess) {
      const peer = batch.peerProcessAt(i);
      owner = `pid ${processText(batch.processAt(i))}${peer ? ` peer ${processText(peer)}` : ''} `;
    }
    text += `${clock(batch.secondsAt(i), batch.nanosecondsAt(i))} ${where}${owner}${describePacket(batch.dataAt(i), batch.linkTypeAt(i), batch.lengthAt(i))}\n`;
  }
  return text;
}

/** Resolves when `stream` can take more, or can take nothing ever again. */
export function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done).off('error', done).off('close', done);
      resolve();
    };
    stream.on('drain', done).on('error', done).on('close', done);
  });
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** -w's file: rotated (-C, -G), classic pcap (--pcap) or pcapng; null without -w. */
function openWriter(cmd: Command, cap: Capturer, stop: () => void): CaptureFileWriter | null {
  if (cmd.write === undefined) return null;
  if (cmd.rotate) {
    const rotating = new RotatingWriter({
      path: cmd.write,
      format: cmd.pcap ? 'pcap' : 'pcapng',
      ...cmd.rotate,
      filter: cmd.options.filter,
      source: cap,
      snaplen: cmd.options.snaplen,
      drops: () => cap.stats().drops,
    });
    // tcpdump -G with -W: the last file written ends the capture.
    rotating.once('limit', stop);
    return rotating;
  }
  const target = cmd.write === '-' ? process.stdout : cmd.write;
  return cmd.pcap
    ? new PcapWriter(target, { end: false, snaplen: cmd.options.snaplen })
    : new PcapngWriter(target, { end: false, filter: cmd.options.filter, source: cap });
}

/** Where the TLS secrets go, or why there are none: a file with them decrypts the capture. */
function announceKeys(cap: Capturer, cmd: Command): void {
  const where = [cmd.embedKeys ? `into ${cmd.write}` : '', cmd.keylog !== undefined ? `into ${cmd.keylog}` : ''].filter(Boolean);
  process.stderr.write(
    cap.tls
      ? `tapwire: TLS secrets go ${where.join(' and ')}: they decrypt this capture; keep the file${where.length > 1 ? 's' : ''} as secret as the keys\n`
      : 'tapwire: no TLS secrets: TLS capture is off\n',
  );
  for (const t of cap.tls?.targets ?? []) if (t.noKeys) process.stderr.write(`tapwire: no TLS secrets from ${t.path}: ${t.noKeys}\n`);
}

/** What is captured and how, on stderr, as tcpdump says it. */
function announce(cmd: Command, cap: Capturer): void {
  const { stderr } = process;
  if (cap.selection.backend === 'file') {
    stderr.write(`tapwire: reading from ${cmd.describe} (${cap.selection.format})\n`);
  } else {
    const snaplen = cmd.options.snaplen ?? MAX_SNAPLEN;
    stderr.write(`tapwire: listening on ${cmd.describe} with the ${cap.backend} backend, snapshot length ${snaplen} bytes\n`);
  }
  // Each reason says whether TLS capture is on ("TLS capture is on: hooked ...").
  if (cmd.options.tls !== undefined) stderr.write(`tapwire: ${cap.selection.tls.reason}\n`);
}

/**
 * Ends the capture on SIGINT and SIGTERM, or with a command passes them on to it (^C
 * reaches it from the terminal as well; a second one does no harm), and its exit ends
 * the capture; and ends it when stdout's reader goes away (| head, a closed pipe), as
 * tcpdump does.
 */
class Interruptions {
  /** The reader of stdout went away: what was captured went as far as it could. */
  outputGone = false;
  outputError: Error | null = null;
  readonly #onSignal: (signal: NodeJS.Signals) => void;
  readonly #onStdoutError: (err: NodeJS.ErrnoException) => void;

  constructor(stop: () => void, running: CommandCapture | null) {
    this.#onSignal = running ? (signal) => void running.child.kill(signal) : stop;
    this.#onStdoutError = (err) => {
      if (err.code === 'EPIPE') this.outputGone = true;
      else this.outputError = err;
      stop();
    };
    process.on('SIGINT', this.#onSignal).on('SIGTERM', this.#onSignal);
    process.stdout.on('error', this.#onStdoutError);
  }

  get ended(): boolean {
    return this.outputGone || this.outputError !== null;
  }

  /** Signals do again what they would (once the capture and its command are over). */
  releaseSignals(): void {
    process.off('SIGINT', this.#onSignal).off('SIGTERM', this.#onSignal);
  }

  /** Once the writer, which may write to stdout, is closed. */
  releaseOutput(): void {
    process.stdout.off('error', this.#onStdoutError);
  }
}

/** What the capture kept: what the final counts and the live counter say. */
interface Kept {
  packets: number;
  bytes: number;
}

/** The indices of `batch` the command keeps (-Q, --pid, --comm), at most `room`. */
function pick(cmd: Command, batch: Batch, room: number): number[] {
  const picked: number[] = [];
  for (let i = 0; i < batch.length && picked.length < room; i++) {
    if (cmd.direction !== undefined && batch.directionAt(i) !== cmd.direction) continue;
    if (cmd.owners && !ownedBy(batch.processAt(i), cmd.owners) && !ownedBy(batch.peerProcessAt(i), cmd.owners)) continue;
    picked.push(i);
  }
  return picked;
}

/** Hands `picked` of `batch` to the writer, or prints them; resolves when there is room for more. */
async function output(
  cmd: Command,
  cap: Capturer,
  writer: CaptureFileWriter | HoldBack | null,
  batch: Batch,
  picked: number[],
): Promise<void> {
  if (picked.length === 0) return;
  if (writer) {
    let select: ((i: number) => boolean) | undefined;
    if (picked.length < batch.length) {
      const mask = new Uint8Array(batch.length);
      for (const i of picked) mask[i] = 1;
      select = (i) => mask[i] === 1;
    }
    if (writer instanceof HoldBack) await writer.write(batch, select);
    else if (!writer.write(batch, select)) await writer.drained();
  } else if (!process.stdout.write(lines(cap, batch, picked, cmd.perInterface, cmd.showProcess))) {
    await drained(process.stdout);
  }
}

/** The packet loop: until -c is reached, the capture ends, or the output goes away. */
async function copyPackets(
  cmd: Command,
  cap: Capturer,
  writer: CaptureFileWriter | HoldBack | null,
  kept: Kept,
  io: Interruptions,
): Promise<void> {
  for await (const batch of cap) {
    if (io.ended) break;
    const picked = pick(cmd, batch, cmd.count - kept.packets);
    await output(cmd, cap, writer, batch, picked);
    kept.packets += picked.length;
    for (const i of picked) kept.bytes += batch.lengthAt(i);
    if (kept.packets >= cmd.count) break;
  }
}

/** tcpdump's closing counts, on stderr. */
function tally(kept: Kept, cap: Capturer): void {
  const s = cap.stats();
  process.stderr.write(`${plural(kept.packets, 'packet')} captured\n`);
  process.stderr.write(`${plural(s.drops.kernel + s.drops.ring, 'packet')} dropped by kernel\n`);
  if (s.drops.userspace > 0) process.stderr.write(`${plural(s.drops.userspace, 'packet')} dropped by tapwire (out of memory)\n`);
}

export async function capture(argv: readonly string[]): Promise<number> {
  const cmd = command(argv);
  if (cmd.help) {
    process.stdout.write(`${CAPTURE_USAGE}\n`);
    return 0;
  }
  if (cmd.listInterfaces) {
    listInterfaces(cmd.options.netns);
    return 0;
  }
  if (cmd.pcap && cmd.write === undefined) throw new UsageError('--pcap chooses the format of -w; there is no -w');
  // A key log that cannot be written fails before anything is captured.
  const keyLogFile = cmd.keylog !== undefined ? new KeyLogFile(cmd.keylog) : null;

  const running = cmd.run ? await captureCommand(cmd.run[0]!, cmd.run.slice(1), { ...cmd.options, spawn: { stdio: 'inherit' } }) : null;
  const cap = running ? running.capturer : await openCapturer(cmd.options);
  const stop = (): void => void cap.close();
  const io = new Interruptions(stop, running);
  let writer: CaptureFileWriter | null = null;
  let hold: HoldBack | null = null;
  let status: StatusLine | null = null;
  const kept: Kept = { packets: 0, bytes: 0 };
  let failure: unknown = null;
  try {
    writer = openWriter(cmd, cap, stop);
    announce(cmd, cap);
    if (process.stderr.isTTY && (writer !== null || !process.stdout.isTTY)) {
      status = new StatusLine(() => {
        const s = cap.stats();
        return { packets: kept.packets, bytes: kept.bytes, drops: s.drops.kernel + s.drops.ring + s.drops.userspace };
      }, process.stderr);
    }
    // --embed-keys and --keylog alone want the secrets: the plaintext is read (it shares
    // the secrets' ring) but not written; --tls as well writes both.
    const tlsLoop = cap.tls ? writeTls(cap.tls, cmd.tlsData ? writer : 'discard', process.stdout) : null;
    const embed = cmd.embedKeys && (writer instanceof PcapngWriter || writer instanceof RotatingWriter) ? writer : null;
    const keysLoop = cap.tls && (embed || keyLogFile) ? copySecrets(cap.tls, keyLogFile, embed) : null;
    if ((cmd.embedKeys || keyLogFile) && cap.selection.backend !== 'file') announceKeys(cap, cmd);
    hold = embed ? new HoldBack(embed) : null;
    await copyPackets(cmd, cap, hold ?? writer, kept, io);
    await cap.close();
    await tlsLoop;
    await keysLoop;
    if (cap.selection.backend === 'file') keyLogFile?.append(cap.keyLog());
  } catch (err) {
    failure = err;
  }
  try {
    await hold?.end();
  } catch (err) {
    failure ??= err;
  }
  keyLogFile?.close();
  status?.stop();
  await cap.close();
  // A command that cannot be started exits as env(1) and the shells say: 127 not found, 126 not runnable.
  const exit = running
    ? await running.exited.catch((err: NodeJS.ErrnoException) => {
        process.stderr.write(`tapwire: ${err.code}: ${err.message}\n`);
        return { code: err.code === 'ENOENT' ? 127 : 126, signal: null };
      })
    : null;
  io.releaseSignals();
  if (writer) {
    try {
      await writer.close(cap.stats());
    } catch (err) {
      failure ??= err;
    }
  }
  io.releaseOutput();
  const error = io.outputGone ? null : (failure ?? io.outputError);
  // A live capture that ends in error (its interface disappeared) still says what it
  // captured, as tcpdump does, and the error then makes the exit code 1.
  if (!error || cap.selection.backend !== 'file') tally(kept, cap);
  if (error) throw error;
  // The command's own exit code, as a shell gives it: 128 + the signal that ended it.
  if (exit) return exit.code ?? 128 + (os.constants.signals[exit.signal!] ?? 0);
  return 0;
}

/**
 * TLS plaintext beside the packets: into a pcapng file as upper-layer PDUs that
 * Wireshark dissects as HTTP (with the connection's addresses where known), or one
 * line per call on stdout.
 */
async function writeTls(tls: TlsPlugin, writer: CaptureFileWriter | 'discard' | null, out: NodeJS.WriteStream): Promise<void> {
  for await (const ev of tls) {
    if (writer === 'discard') continue;
    if (writer instanceof PcapngWriter || (writer instanceof RotatingWriter && !writer.limitReached)) {
      const outgoing = ev.direction === 'write';
      const c = ev.connection;
      const [src, dst] = c ? (outgoing ? [c.local, c.remote] : [c.remote, c.local]) : [undefined, undefined];
      const pdu: UpperPdu = { timestampNs: ev.timestampNs, protocol: 'http', direction: outgoing ? 'out' : 'in', data: ev.data };
      if (src && dst && src.address.includes(':') === dst.address.includes(':')) {
        Object.assign(pdu, { srcAddr: src.address, dstAddr: dst.address, srcPort: src.port, dstPort: dst.port });
      }
      if (!writer.writeUpperPdu(pdu)) await writer.drained();
    } else if (!writer) {
      const head = ev.data
        .subarray(0, 60)
        .toString('latin1')
        .replace(/[^\x20-\x7e]/g, '.');
      const line = `${clock(Math.floor(ev.timestamp / 1000), Number(ev.timestampNs % 1_000_000_000n))} TLS ${ev.direction} pid ${ev.pid} (${ev.comm}) ${ev.data.length} bytes${ev.truncated ? ' (truncated)' : ''}: ${head}\n`;
      if (!out.write(line)) await drained(out);
    }
  }
}
