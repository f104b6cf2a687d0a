/**
 * Backend selection: a pure function of the probe report and the `backend` option.
 * TLS settings are deliberately not a parameter: no TLS value can change which
 * backend captures packets (test/selection.test.js proves it for every combination).
 * This module imports no backend and no plugin.
 */
import { BackendUnavailableError, InvalidOptionError, NoBackendError } from './errors';
import type { ProbeReport } from './probe';

export type BackendName = 'ebpf' | 'raw-socket';
export type BackendOption = 'auto' | BackendName;

const BACKEND_OPTIONS: readonly BackendOption[] = ['auto', 'ebpf', 'raw-socket'];
/** The order 'auto' tries them in: the faster, richer backend first. */
const PREFERENCE: readonly BackendName[] = ['ebpf', 'raw-socket'];

export interface Readiness {
  ok: boolean;
  reason: string;
}

/** One way to capture: a backend, and for eBPF how its programs are hooked in. */
export type Attempt = { backend: 'ebpf'; attach: AttachMode } | { backend: 'raw-socket' };

export interface Selection {
  backend: BackendName;
  /** Why this backend, and why not each one before it. */
  reasons: string[];
  /**
   * What openCapturer() tries, in order, the first being `backend`: the probe cannot
   * know whether the kernel accepts the programs for this filter and these interfaces,
   * so 'auto' keeps the next attach mode and backend ready. A forced backend lists
   * only its own attach modes.
   */
  attempts: Attempt[];
}

export type AttachMode = 'tcx' | 'socket';

/**
 * How the eBPF backend can hook packets here, best first: tcx links (Linux 6.6+, needs
 * CAP_NET_ADMIN to load TC programs), or a socket filter on a packet socket (needs
 * CAP_NET_RAW). Both are owned by file descriptors.
 */
export function attachModes(report: ProbeReport): AttachMode[] {
  const f = report.features;
  const modes: AttachMode[] = [];
  if (f.tcProgram.ok && f.tcx.ok && f.tcxCapture.ok) modes.push('tcx');
  if (f.bpf.ok && f.packetSocket.ok && f.socketCapture.ok) modes.push('socket');
  return modes;
}

/** Why the eBPF backend cannot attach this way here (the probe's reason). */
export function attachBlocker(report: ProbeReport, mode: AttachMode): string {
  const f = report.features;
  if (mode === 'socket') return f.packetSocket.ok ? f.socketCapture.reason : f.packetSocket.reason;
  if (!f.tcProgram.ok) return f.tcProgram.reason;
  return f.tcx.ok ? f.tcxCapture.reason : f.tcx.reason;
}

/** Whether a backend can run on the host the report describes, and why (not). */
export function readiness(report: ProbeReport, backend: BackendName): Readiness {
  const f = report.features;
  if (backend === 'raw-socket') {
    return f.packetSocket.ok
      ? { ok: true, reason: 'raw-socket: AF_PACKET sockets can be opened' }
      : { ok: false, reason: `raw-socket: ${f.packetSocket.reason}` };
  }
  for (const need of [f.bpf, f.ringBuffer]) {
    if (!need.ok) return { ok: false, reason: `ebpf: ${need.reason}` };
  }
  const modes = attachModes(report);
  if (modes.length === 0) {
    return {
      ok: false,
      reason: `ebpf: no way to attach: tcx: ${attachBlocker(report, 'tcx')}; socket filter: ${attachBlocker(report, 'socket')}`,
    };
  }
  return { ok: true, reason: `ebpf: BPF programs and ring buffers work; attach by ${modes.join(' or ')}` };
}

export function assertBackendOption(value: unknown): asserts value is BackendOption {
  if (!BACKEND_OPTIONS.includes(value as BackendOption)) {
    throw new InvalidOptionError(`backend must be one of ${BACKEND_OPTIONS.map((b) => `'${b}'`).join(', ')}; got ${JSON.stringify(value)}`);
  }
}

/** A way to capture, as selection reasons name it: 'ebpf (tcx)', 'raw-socket'. */
export function attemptName(attempt: Attempt): string {
  return attempt.backend === 'ebpf' ? `ebpf (${attempt.attach})` : attempt.backend;
}

function ebpfAttempts(report: ProbeReport, attach: 'auto' | AttachMode): Attempt[] {
  const modes = attachModes(report);
  if (attach === 'auto') return modes.map((mode) => ({ backend: 'ebpf', attach: mode }));
  if (!modes.includes(attach)) {
    throw new BackendUnavailableError(`attach: '${attach}' cannot be used here: ${attachBlocker(report, attach)}`);
  }
  return [{ backend: 'ebpf', attach }];
}

/**
 * The backend for this host, from the probe report and the caller's `backend` (and, for
 * eBPF, `attach`) option. TLS is not an input: nothing about TLS can change the result.
 */
export function selectBackend(report: ProbeReport, requested: BackendOption, attach: 'auto' | AttachMode = 'auto'): Selection {
  assertBackendOption(requested);
  if (requested !== 'auto') {
    const r = readiness(report, requested);
    if (!r.ok) throw new BackendUnavailableError(`backend '${requested}' was requested but cannot run here: ${r.reason}`);
    const attempts: Attempt[] = requested === 'ebpf' ? ebpfAttempts(report, attach) : [{ backend: 'raw-socket' }];
    return { backend: requested, reasons: [`'${requested}' was requested`, r.reason], attempts };
  }
  const reasons: string[] = [];
  const attempts: Attempt[] = [];
  for (const backend of PREFERENCE) {
    const r = readiness(report, backend);
    reasons.push(r.reason);
    if (!r.ok) continue;
    if (backend === 'ebpf') attempts.push(...ebpfAttempts(report, attach));
    else attempts.push({ backend });
  }
  const first = attempts[0];
  if (!first) throw new NoBackendError(`no capture backend can run here: ${reasons.join('; ')}`);
  // Reasons run up to the chosen backend; the ones after it are its fallbacks.
  const chosen = reasons.findIndex((r) => r.startsWith(`${first.backend}:`));
  return { backend: first.backend, reasons: reasons.slice(0, chosen + 1), attempts };
}
