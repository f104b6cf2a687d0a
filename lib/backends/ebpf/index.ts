/**
 * The eBPF backend: the pcap filter, translated to eBPF, runs at each interface's tcx
 * hooks (or as a packet-socket filter) and copies accepted packets into a BPF ring
 * buffer; rejected packets cost no copy. Kernel mechanics: native/ebpf/.
 */
import fs from 'node:fs';
import os from 'node:os';
import { Batch } from '../../batch';
import type { Backend, BackendStats, BatchSink, EndCallback, PluginHost } from '../../backend';
import { BadFilterError, fromNative, InterfaceGoneError, PermissionError, ProgramRejectedError, TapwireError } from '../../errors';
import { dltsOf, FilterPrograms } from '../../filter';
import { hostInterfaces, resolveInterface, watchInterfaces, type Interface } from '../../interfaces';
import { echoesSends, linkOf } from '../../link';
import { native, type EbpfCapture } from '../../native';
import type { ResolvedOptions } from '../../options';
import { errnoName, verifierVerdict, type ProbeReport } from '../../probe';
import type { AttachMode } from '../../selection';
import { ringBufferSize } from '../../ring-size';

const MiB = 1024 * 1024;
const EPERM = os.constants.errno.EPERM;
const ENOMEM = os.constants.errno.ENOMEM;

/** The named interfaces; without names, every interface there is now (with a filter, those libpcap can filter). */
function interfacesToHook(options: ResolvedOptions): Interface[] {
  if (options.interfaces !== null) return options.interfaces.map(resolveInterface);
  return hostInterfaces().filter((i) => options.filter === '' || linkOf(i.hardwareType)?.dlt !== undefined);
}

function optmemMax(): string {
  try {
    return fs.readFileSync('/proc/sys/net/core/optmem_max', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Native failures of the eBPF path, with what to do about them. */
function openError(err: unknown, attach: AttachMode, report: ProbeReport): TapwireError {
  const e = err as Error & { errno?: number; syscall?: string; log?: string; program?: string; nativeCode?: string };
  if (e.nativeCode === 'EFILTER') return new BadFilterError(`the filter cannot run as eBPF: ${e.message}`, 'kernel');
  if (e.log !== undefined) {
    const program = e.program ?? 'a capture program';
    return new ProgramRejectedError(
      `the kernel refused ${program} (${errnoName(e.errno ?? 0)}): ${verifierVerdict(e.log)}\nverifier log (end):\n${e.log.trimEnd()}`,
      { errno: e.errno, cause: err, program, log: e.log },
    );
  }
  if (e.errno === ENOMEM && e.syscall === 'setsockopt(SO_ATTACH_BPF)') {
    // A socket's filter is charged to net.core.optmem_max: 20 KiB before Linux 6.9.
    return new BadFilterError(
      `the filter's program is larger than the kernel lets a socket hold (net.core.optmem_max = ${optmemMax()} bytes): ` +
        'raise it (sysctl -w net.core.optmem_max=131072), or capture with attach: tcx or the raw-socket backend',
      'kernel',
    );
  }
  if (e.errno === EPERM && !report.features.memlock.ok) {
    return new PermissionError(`cannot start eBPF capture (${attach}): ${e.message}: ${report.features.memlock.reason}`, {
      errno: e.errno,
      syscall: e.syscall,
      cause: err,
    });
  }
  return fromNative(err, `cannot start eBPF capture (${attach})`, attach === 'tcx' ? 'CAP_BPF+CAP_NET_ADMIN' : 'CAP_BPF+CAP_NET_RAW');
}

class EbpfBackend implements Backend {
  readonly name = 'ebpf' as const;
  readonly attach: AttachMode;
  readonly pluginHost: PluginHost;
  readonly #capture: EbpfCapture;
  /** The interfaces named: a capture on them ends if one goes away. */
  readonly #named: Interface[];
  #sink: BatchSink | undefined;
  #stopWatching: (() => void) | undefined;

  constructor(options: ResolvedOptions, attach: AttachMode, report: ProbeReport, hooked: Interface[], programs: FilterPrograms) {
    this.attach = attach;
    this.#named = options.interfaces !== null ? hooked : [];
    this.pluginHost = { backend: 'ebpf', batchTimeout: options.batchTimeout };
    const size = ringBufferSize(options.bufferSize);
    const onBatch = (buffer: ArrayBuffer, count: number, bytes: number): void => {
      this.#sink?.(new Batch(buffer, count, bytes));
    };
    try {
      this.#capture = new (native().EbpfCapture)(
        {
          attach: this.attach,
          ringSize: size,
          wakeupBytes: Math.min(MiB, size / 8),
          batchTimeoutMs: options.batchTimeout,
          promiscuous: options.promiscuous,
          targets: hooked.map((i) => ({
            ifindex: i.index,
            hardwareType: i.hardwareType,
            filter: programs.forInterface(i.hardwareType),
            outgoing: !echoesSends(i.hardwareType),
          })),
        },
        onBatch,
      );
    } catch (err) {
      throw openError(err, this.attach, report);
    }
  }

  start(sink: BatchSink, end: EndCallback): void {
    this.#sink = sink;
    if (this.#named.length > 0) this.#stopWatching = watchInterfaces(this.#named, (i) => end(new InterfaceGoneError(i.name)));
    this.resume();
  }

  pause(): void {
    this.#capture.pause();
  }

  resume(): void {
    this.#capture.resume();
  }

  async close(): Promise<void> {
    this.#stopWatching?.();
    // Records are complete once the program that wrote them returns, so detaching and
    // then draining hands over every packet captured, with no wait.
    this.#capture.detach();
    this.#capture.flush();
    this.#capture.close();
  }

  stats(): BackendStats {
    const s = this.#capture.stats();
    return { kernelDrops: 0, ringDrops: s.ringDrops, userspaceDrops: s.userspaceDrops, filtered: s.filtered };
  }
}

export async function openEbpf(options: ResolvedOptions, attach: AttachMode, report: ProbeReport): Promise<Backend> {
  const hooked = interfacesToHook(options);
  const programs = await FilterPrograms.compile(options.filter, options.snaplen, dltsOf(hooked.map((i) => i.hardwareType)));
  return new EbpfBackend(options, attach, report, hooked, programs);
}
