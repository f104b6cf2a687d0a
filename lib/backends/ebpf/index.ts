/**
 * The eBPF backend: the pcap filter, translated to eBPF, runs at each interface's tcx
 * hooks (or as a packet-socket filter) and copies accepted packets into a BPF ring
 * buffer; rejected packets cost no copy. Kernel mechanics: native/ebpf/.
 */
import { Batch } from '../../batch';
import type { Backend, BackendStats, BatchSink, PluginHost } from '../../backend';
import { BackendUnavailableError, BadFilterError, fromNative, TapwireError } from '../../errors';
import { filterForInterface } from '../../filter';
import { hostInterfaces, resolveInterface, type Interface } from '../../interfaces';
import { linkOf } from '../../link';
import { native, type EbpfCapture, type EbpfTarget } from '../../native';
import type { ResolvedOptions } from '../../options';
import type { ProbeReport } from '../../probe';
import { attachBlocker, attachModes, type AttachMode } from '../../selection';
import { ringBufferSize } from '../../ring-size';

const MiB = 1024 * 1024;
const EACCES = 13;
const EINVAL = 22;

function chooseAttach(options: ResolvedOptions, report: ProbeReport): AttachMode {
  const modes = attachModes(report);
  if (options.attach === 'auto') return modes[0]!;
  if (!modes.includes(options.attach)) {
    throw new BackendUnavailableError(`attach: '${options.attach}' cannot be used here: ${attachBlocker(report, options.attach)}`);
  }
  return options.attach;
}

function targets(options: ResolvedOptions): EbpfTarget[] {
  const target = (i: Interface): EbpfTarget => ({
    ifindex: i.index,
    hardwareType: i.hardwareType,
    filter: filterForInterface(options.filter, i.hardwareType, options.snaplen),
  });
  if (options.interfaces !== null) return options.interfaces.map((name) => target(resolveInterface(name)));
  // Every interface there is now; with a filter, those whose link libpcap can filter.
  return hostInterfaces()
    .filter((i) => options.filter === '' || linkOf(i.hardwareType)?.dlt !== undefined)
    .map(target);
}

/** Native failures of the eBPF path, with what to do about them. */
function openError(err: unknown, attach: AttachMode): TapwireError {
  const e = err as Error & { errno?: number; log?: string; nativeCode?: string };
  if (e.nativeCode === 'EFILTER') return new BadFilterError(`the filter cannot run in the kernel: ${e.message}`);
  if (e.log && (e.errno === EACCES || e.errno === EINVAL)) {
    const tail = e.log.trim().split('\n').slice(-6).join('\n');
    return new TapwireError('ERR_SYSTEM', `the kernel's verifier rejected a capture program: ${e.message}\n${tail}`, {
      errno: e.errno,
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
  #sink: BatchSink | undefined;

  constructor(options: ResolvedOptions, report: ProbeReport) {
    this.attach = chooseAttach(options, report);
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
          targets: targets(options),
        },
        onBatch,
      );
    } catch (err) {
      throw openError(err, this.attach);
    }
  }

  start(sink: BatchSink): void {
    this.#sink = sink;
    this.resume();
  }

  pause(): void {
    this.#capture.pause();
  }

  resume(): void {
    this.#capture.resume();
  }

  async close(): Promise<void> {
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

export function openEbpf(options: ResolvedOptions, report: ProbeReport): Backend {
  return new EbpfBackend(options, report);
}
