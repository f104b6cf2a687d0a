/**
 * openCapturer(): probe, select a backend (TLS plays no part), decide TLS beside it,
 * open the backend. It resolves once the capture is attached and filtering. With
 * `file`, none of that: the file is replayed (lib/backends/file).
 */
import { Capturer } from './capturer';
import type { Backend } from './backend';
import { openEbpf, openEbpfCgroup } from './backends/ebpf';
import { openRawSocket } from './backends/raw-socket';
import { NoPackets } from './backends/no-packets';
import { resolveOptions, resolveReplayOptions, type CaptureOptions, type ResolvedOptions } from './options';
import { probe, type ProbeReport } from './probe';
import { openReplay } from './backends/file';
import { attemptName, selectBackend, type Attempt, type BackendName, type Selection } from './selection';
import { tlsPlugin } from './plugins/tls';
import { decideTls, type TlsState } from './tls';
import {
  AttributionUnavailableError,
  BackendUnavailableError,
  BadFilterError,
  InvalidOptionError,
  NoBackendError,
  NoSuchInterfaceError,
  NoSuchNamespaceError,
  TlsUnavailableError,
} from './errors';

const BACKENDS: Record<BackendName, (options: ResolvedOptions, attempt: Attempt, report: ProbeReport) => Promise<Backend>> = {
  ebpf: (options, attempt, report) => openEbpf(options, attempt.backend === 'ebpf' ? attempt.attach : 'socket', report),
  'raw-socket': openRawSocket,
};

export async function openCapturer(options: CaptureOptions = {}): Promise<Capturer> {
  const replay = resolveReplayOptions(options);
  const capturer = replay ? await openReplay(replay) : await openLive(resolveOptions(options));
  const signal = options.signal;
  if (signal) {
    const onAbort = (): void => void capturer.close();
    signal.addEventListener('abort', onAbort, { once: true });
    capturer.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  return capturer;
}

/** Errors about what the caller asked for: no other backend would do better. */
function callersMistake(err: unknown): boolean {
  if (err instanceof BadFilterError) return err.refusedBy === 'expression';
  return (
    err instanceof InvalidOptionError ||
    err instanceof NoSuchInterfaceError ||
    err instanceof NoSuchNamespaceError ||
    err instanceof AttributionUnavailableError
  );
}

/**
 * Opens the first attempt the kernel lets start. The probe cannot foresee everything
 * (a verifier refusing the programs for this filter, an attach the kernel turns down),
 * so 'auto' moves on and says why; the last attempt's failure is the caller's error.
 */
async function openFirst(
  resolved: ResolvedOptions,
  selection: Selection,
  report: ProbeReport,
): Promise<{ backend: Backend; selection: Selection }> {
  const reasons = [...selection.reasons];
  let failure: unknown;
  for (const [i, attempt] of selection.attempts.entries()) {
    try {
      const backend = await BACKENDS[attempt.backend](resolved, attempt, report);
      return { backend, selection: { ...selection, backend: attempt.backend, reasons } };
    } catch (err) {
      failure = err;
      const next = selection.attempts[i + 1];
      if (!next || callersMistake(err)) break;
      reasons.push(`${attemptName(attempt)} could not start, so ${attemptName(next)} is tried: ${(err as Error).message}`);
    }
  }
  if (selection.attempts.length > 1 && resolved.backend === 'auto' && !callersMistake(failure)) {
    throw new NoBackendError(`no capture backend could start here: ${reasons.join('; ')}; ${(failure as Error).message}`, {
      cause: failure,
    });
  }
  throw failure;
}

/**
 * What a capture is confined to that its TLS plaintext cannot be, said as "in ...", or
 * null. A cgroup's can: the TLS plugin takes the capture's cgroup (tls.cgroup).
 */
function unconfinable(resolved: ResolvedOptions): string | null {
  return resolved.netns !== null ? `in the network namespace ${resolved.netns}` : null;
}

/**
 * `packets: false`: the backend selection would choose, opened without hooking a packet
 * (only its plugins run). TLS plays no part in the choice here either.
 */
function withoutPackets(resolved: ResolvedOptions, report: ProbeReport): { backend: Backend; selection: Selection } {
  const selection = selectBackend(report, resolved.backend, resolved.attach);
  const reasons = [...selection.reasons, 'packets: false: no packet is hooked or queued'];
  return { backend: new NoPackets(selection.backend, resolved.batchTimeout), selection: { ...selection, reasons } };
}

/**
 * A cgroup capture runs on the eBPF backend or not at all: any other backend would
 * capture every process's packets.
 */
async function openCgroup(resolved: ResolvedOptions, report: ProbeReport): Promise<{ backend: Backend; selection: Selection }> {
  const f = report.features;
  const blocker = [f.bpf, f.ringBuffer, f.cgroupCapture].find((x) => !x.ok);
  if (blocker) {
    const message = `a cgroup capture needs the eBPF backend, which cannot capture a cgroup here: ${blocker.reason}`;
    throw resolved.backend === 'ebpf'
      ? new BackendUnavailableError(message)
      : new NoBackendError(`${message} (no other backend can capture one cgroup's traffic)`);
  }
  const backend = await openEbpfCgroup(resolved, report);
  const reasons = [`ebpf: capturing the cgroup ${resolved.cgroup} at its inet hooks; no other backend can, so none is tried`];
  return { backend, selection: { backend: 'ebpf', reasons, attempts: [] } };
}

async function openLive(resolved: ResolvedOptions): Promise<Capturer> {
  resolved.signal?.throwIfAborted();
  const report = await probe();
  resolved.signal?.throwIfAborted();
  const { backend, selection } = !resolved.packets
    ? withoutPackets(resolved, report)
    : resolved.cgroup !== null
      ? await openCgroup(resolved, report)
      : await openFirst(resolved, selectBackend(report, resolved.backend, resolved.attach), report);
  // Attribution, like TLS, never chose the backend: where the chosen one cannot
  // attribute, the capture does not open, and says why.
  if (resolved.attribution && !backend.attributes) {
    await backend.close();
    const how = backend.attach ? `${backend.name} (${backend.attach})` : backend.name;
    const instead = report.features.cgroupAttribution.ok ? "; a cgroup capture can attribute here (cgroup: '/' is every process's)" : '';
    throw new AttributionUnavailableError(
      `attribution needs the eBPF backend attached by tcx (Linux 6.6+) or a cgroup capture; this host captures with ${how}: ${selection.reasons.join('; ')}${instead}`,
    );
  }
  // TLS is decided once the backend is capturing, from what happened: it never chose it.
  let tls: TlsState;
  try {
    tls = decideTls(resolved.tls, selection, report, unconfinable(resolved));
  } catch (err) {
    await backend.close();
    throw err;
  }
  const { attempts: _tried, ...chosen } = selection;
  const attribution = resolved.attribution
    ? {
        active: true,
        reason: `packets name their processes: ${report.features.attribution.reason}${backend.existingSockets ? `; ${backend.existingSockets}` : ''}`,
      }
    : { active: false, reason: 'not asked for (attribution: true turns it on)' };
  const zeroCopy = !resolved.zeroCopy
    ? { active: false, reason: 'not asked for (zeroCopy: true turns it on)' }
    : backend.lends
      ? { active: true, reason: "batches are the kernel ring's own blocks, lent until the next batch is taken or release()" }
      : {
          active: false,
          reason: `batches are copies on the ${backend.name} backend: the kernel maps a BPF ring buffer's data read-only, and a write through a view of it would crash the process`,
        };
  const capturer = new Capturer(
    backend,
    { ...chosen, ...(backend.attach ? { attach: backend.attach } : {}), probe: report, tls, attribution, zeroCopy },
    resolved.highWaterMark,
  );
  // Files the caller named in tls.targets that have nothing to hook.
  let unhooked: string[] = [];
  if (tls.active) {
    // The backend is chosen and capturing: whatever happens to TLS now, it stays.
    try {
      // A cgroup's capture sees the plaintext of that cgroup's processes only.
      const cgroup = resolved.tlsOptions.cgroup ?? resolved.cgroup ?? undefined;
      const plugin = tlsPlugin({ ...resolved.tlsOptions, ...(cgroup !== undefined ? { cgroup } : {}) });
      capturer.use(plugin);
      capturer.tls = plugin;
      tls.reason = `TLS capture is on: hooked ${plugin.targets.map((t) => t.path).join(', ')}`;
      unhooked = plugin.skipped.filter((s) => s.named).map((s) => `${s.path} ${s.reason}`);
      if (unhooked.length > 0) tls.reason += `; not hooked: ${unhooked.join('; ')}`;
    } catch (err) {
      tls.active = false;
      tls.reason = `TLS capture could not start: ${(err as Error).message}`;
      if (resolved.tls === 'required') {
        await capturer.close();
        throw new TlsUnavailableError(`tls: 'required' cannot be met: ${tls.reason}`);
      }
    }
  }
  if (unhooked.length > 0 && resolved.tls === 'required') {
    await capturer.close();
    throw new InvalidOptionError(`tls.targets: nothing to hook in ${unhooked.join('; ')}`);
  }
  return capturer;
}
