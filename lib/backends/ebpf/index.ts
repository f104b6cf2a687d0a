/**
 * The eBPF backend: the pcap filter, translated to eBPF, runs at each interface's tcx
 * hooks (or as a packet-socket filter) and copies accepted packets into a BPF ring
 * buffer; rejected packets cost no copy. Kernel mechanics: native/ebpf/.
 */
import fs from 'node:fs';
import os from 'node:os';
import { RecordedOwners } from '../../attribution/owners';
import { ProcessTable } from '../../attribution/processes';
import { Batch } from '../../batch';
import { cgroup2Root, MOUNT_CGROUP2 } from '../../cgroup';
import type { Backend, BackendStats, BatchSink, EndCallback, HookMode, InterfaceCallback, PluginHost } from '../../backend';
import {
  AttributionUnavailableError,
  BadFilterError,
  fromNative,
  InterfaceGoneError,
  PermissionError,
  ProgramRejectedError,
  TapwireError,
  type NativeError,
} from '../../errors';
import { dltsOf, FilterPrograms, unfilterable } from '../../filter';
import {
  followInterfaces,
  hostInterfaces,
  interfaceAt,
  InterfaceNames,
  resolveInterface,
  watchInterfaces,
  type Interface,
  type InterfaceChange,
} from '../../interfaces';
import { NetworkNamespace, within } from '../../netns';
import { echoesSends, linkOf } from '../../link';
import { native, type EbpfCapture, type EbpfTarget } from '../../native';
import type { ResolvedOptions } from '../../options';
import { errnoName, verifierVerdict, type ProbeReport } from '../../probe';
import type { AttachMode } from '../../selection';
import { drainInterval } from '../../drain-interval';
import { ringBufferSize } from '../../ring-size';

const MiB = 1024 * 1024;
/** The kernel wakes the reader once this much of the ring is full (at most an eighth of it). */
const WAKEUP_BYTES = MiB;
/** Ring space handed over per batch (at most a quarter of the ring): about what a TPACKET_V3 block holds. */
const BATCH_BYTES = 2 * MiB;
const { EPERM, ENOMEM } = os.constants.errno;
/** What a cgroup capture's packets are: raw IP, from the IP header on. */
const ARPHRD_NONE = 0xfffe;

/** Whether an every-interface capture hooks an interface: with a filter, only those libpcap can filter. */
function hookable(options: ResolvedOptions, hardwareType: number): boolean {
  return options.filter === '' || linkOf(hardwareType)?.dlt !== undefined;
}

function optmemMax(): string {
  try {
    return fs.readFileSync('/proc/sys/net/core/optmem_max', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Native failures of the eBPF path, with what to do about them. */
function openError(err: unknown, attach: HookMode, report: ProbeReport): TapwireError {
  const e = err as NativeError;
  if (e.nativeCode === 'EFILTER' && e.errno === ENOMEM) {
    // A socket's filter is charged to net.core.optmem_max: 20 KiB before Linux 6.9.
    return new BadFilterError(
      `the filter's program is larger than the kernel lets a socket hold (net.core.optmem_max = ${optmemMax()} bytes): ` +
        'raise it (sysctl -w net.core.optmem_max=131072), or capture with attach: tcx or the raw-socket backend',
      'kernel',
    );
  }
  // Without an errno, the filter has no eBPF form; the kernel's other refusals say their own errno.
  if (e.nativeCode === 'EFILTER' && e.errno === undefined) {
    return new BadFilterError(`the filter cannot run as eBPF: ${e.message}`, 'kernel');
  }
  if (e.log !== undefined) {
    const program = e.program ?? 'a capture program';
    return new ProgramRejectedError(
      `the kernel refused ${program} (${errnoName(e.errno ?? 0)}): ${verifierVerdict(e.log)}\nverifier log (end):\n${e.log.trimEnd()}`,
      { errno: e.errno, cause: err, program, log: e.log },
    );
  }
  if (e.errno === EPERM && !report.features.memlock.ok) {
    return new PermissionError(`cannot start eBPF capture (${attach}): ${e.message}: ${report.features.memlock.reason}`, {
      errno: e.errno,
      syscall: e.syscall,
      cause: err,
    });
  }
  return fromNative(err, `cannot start eBPF capture (${attach})`, attach === 'socket' ? 'CAP_BPF+CAP_NET_RAW' : 'CAP_BPF+CAP_NET_ADMIN');
}

/** Where the socket hooks that name owners are linked: the root of the cgroup v2 tree, which every process is under. */
function attributionRoot(): string {
  const root = cgroup2Root();
  if (!root) {
    throw new AttributionUnavailableError(`attribution needs cgroup v2 (its socket hooks are linked at its root), and ${MOUNT_CGROUP2}`);
  }
  return root;
}

function target(i: Interface, programs: FilterPrograms): EbpfTarget {
  return {
    ifindex: i.index,
    hardwareType: i.hardwareType,
    filter: programs.forInterface(i.hardwareType),
    outgoing: !echoesSends(i.hardwareType),
  };
}

class EbpfBackend implements Backend {
  readonly name = 'ebpf' as const;
  readonly attach: HookMode;
  readonly pluginHost: PluginHost;
  /** Whether packets carry their owner (`attribution: true`). */
  readonly attributes: boolean;
  readonly existingSockets?: string;
  readonly #capture: EbpfCapture;
  /** The interfaces named: a capture on them ends if one goes away. */
  readonly #named: Interface[];
  /** Every-interface captures: every interface there was at open, hooked or not. */
  readonly #known: number[] | undefined;
  readonly #options: ResolvedOptions;
  readonly #programs: FilterPrograms;
  readonly #ns: NetworkNamespace | undefined;
  readonly #names: InterfaceNames;
  #sink: BatchSink | undefined;
  #stopWatching: (() => void) | undefined;
  /** Interface changes, handled one after another in the order the kernel told them. */
  #changes: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(
    options: ResolvedOptions,
    attach: HookMode,
    report: ProbeReport,
    hooked: Interface[],
    known: number[] | undefined,
    programs: FilterPrograms,
    ns: NetworkNamespace | undefined,
  ) {
    this.attach = attach;
    this.#options = options;
    this.#programs = programs;
    this.#known = known;
    this.#ns = ns;
    this.#names = new InterfaceNames(ns);
    this.#named = options.interfaces !== null ? hooked : [];
    this.pluginHost = { backend: 'ebpf', batchTimeout: options.batchTimeout };
    const size = ringBufferSize(options.bufferSize);
    this.attributes = options.attribution && attach !== 'socket';
    const attribution = this.attributes ? { cgroupRoot: attributionRoot() } : undefined;
    const processes = this.attributes ? new ProcessTable() : undefined;
    const onBatch = (buffer: ArrayBuffer, count: number, bytes: number, ownersAt: number): void => {
      const owners = processes && new RecordedOwners(buffer, ownersAt, count, processes);
      this.#sink?.(Batch.of(buffer, count, bytes, owners));
    };
    // tcx links and packet sockets are bound to the namespace they are made in.
    const open = (): EbpfCapture =>
      new (native().EbpfCapture)(
        {
          attach: this.attach,
          ringSize: size,
          wakeupBytes: Math.min(WAKEUP_BYTES, size / 8),
          batchBytes: Math.min(BATCH_BYTES, size / 4),
          drainIntervalMs: drainInterval(options.batchTimeout),
          snaplen: options.snaplen,
          promiscuous: options.promiscuous,
          targets: hooked.map((i) => target(i, programs)),
          skipGone: this.#known !== undefined,
          ...(options.cgroup !== null ? { cgroup: { path: options.cgroup, filter: programs.forInterface(ARPHRD_NONE) } } : {}),
          ...(attribution ? { attribution } : {}),
        },
        onBatch,
      );
    try {
      this.#capture = within(ns, open);
    } catch (err) {
      if ((err as NativeError).attribution === true) {
        throw new AttributionUnavailableError(`attribution cannot start: ${openError(err, this.attach, report).message}`, { cause: err });
      }
      throw openError(err, this.attach, report);
    }
    const existing = this.#capture.existingSockets();
    if (existing?.by === 'iterator') this.existingSockets = 'the sockets open at the start were named by the task-file iterator';
    else if (existing?.by === 'proc') {
      const sockets = (n: number): string => `${n} socket${n === 1 ? '' : 's'}`;
      const missed =
        existing.unnamed > 0
          ? `; ${sockets(existing.unnamed)} (of any family) were not borrowed, their process being one this one may not trace or in other net_cls or net_prio cgroups, and are named once used`
          : '';
      this.existingSockets = `${sockets(existing.named)} open at the start named from /proc${missed}`;
    }
  }

  start(sink: BatchSink, end: EndCallback, onInterface?: InterfaceCallback): void {
    this.#sink = sink;
    if (this.#named.length > 0) {
      this.#stopWatching = watchInterfaces(this.#named, (i) => end(new InterfaceGoneError(i.name)), this.#ns);
    } else if (this.#known) {
      this.#stopWatching = followInterfaces(
        this.#known,
        (change, index) => {
          this.#changes = this.#changes.then(() => this.#follow(change, index, onInterface));
        },
        this.#ns,
      );
    }
    this.resume();
  }

  /** Hooks an interface that appeared, or lets go of one that went, and says so. */
  async #follow(change: InterfaceChange, index: number, onInterface: InterfaceCallback | undefined): Promise<void> {
    if (this.#closed) return;
    if (change === 'removed') {
      this.#capture.releaseInterface(index);
      onInterface?.({ change, name: this.#names.nameOf(index), index, attached: false });
      return;
    }
    const found = interfaceAt(index, this.#ns);
    if (!found) return; // gone again before it could be looked at; its removal follows
    const said = { change, name: found.name, index };
    if (!hookable(this.#options, found.hardwareType)) {
      onInterface?.({ ...said, attached: false, reason: unfilterable(found.hardwareType) });
      return;
    }
    try {
      await this.#programs.add(dltsOf([found.hardwareType]));
      if (this.#closed) return;
      const t = target(found, this.#programs);
      within(this.#ns, () => this.#capture.attachInterface(t));
      onInterface?.({ ...said, attached: true });
    } catch (err) {
      // Most often it went again at once (ENODEV); its removal is reported next.
      onInterface?.({ ...said, attached: false, reason: (err as Error).message });
    }
  }

  interfaceName(index: number): string | undefined {
    return this.#names.nameOf(index);
  }

  interfaceDescription(): string | undefined {
    return this.#ns?.describe();
  }

  pause(): void {
    this.#capture.pause();
  }

  resume(): void {
    this.#capture.resume();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stopWatching?.();
    // Records are complete once the program that wrote them returns, so detaching and
    // then draining hands over every packet captured, with no wait.
    this.#capture.detach();
    this.#capture.flush();
    this.#capture.close();
    this.#ns?.close();
  }

  stats(): BackendStats {
    const s = this.#capture.stats();
    return { kernelDrops: 0, ringDrops: s.ringDrops, userspaceDrops: s.userspaceDrops, filtered: s.filtered, interfaces: s.interfaces };
  }
}

export async function openEbpf(options: ResolvedOptions, attach: AttachMode, report: ProbeReport): Promise<Backend> {
  const ns = NetworkNamespace.openOption(options.netns);
  try {
    let hooked: Interface[];
    let known: number[] | undefined;
    if (options.interfaces !== null) {
      hooked = options.interfaces.map((name) => resolveInterface(name, ns));
    } else {
      const all = hostInterfaces(ns);
      known = all.map((i) => i.index);
      hooked = all.filter((i) => hookable(options, i.hardwareType));
    }
    const programs = await FilterPrograms.compile(options.filter, options.snaplen, dltsOf(hooked.map((i) => i.hardwareType)));
    return new EbpfBackend(options, attach, report, hooked, known, programs, ns);
  } catch (err) {
    ns?.close();
    throw err;
  }
}

/** A capture of one cgroup's sockets, at its inet ingress and egress hooks, on every interface. */
export async function openEbpfCgroup(options: ResolvedOptions, report: ProbeReport): Promise<Backend> {
  const programs = await FilterPrograms.compile(options.filter, options.snaplen, dltsOf([ARPHRD_NONE]));
  return new EbpfBackend(options, 'cgroup', report, [], undefined, programs, undefined);
}
