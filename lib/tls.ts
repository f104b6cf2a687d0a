/**
 * The `tls` option: validated here, decided after the backend is chosen, and never an
 * input to that choice. TLS plaintext capture is a plugin of the eBPF backend only.
 */
import { InvalidOptionError, TlsUnavailableError } from './errors';
import type { ProbeReport } from './probe';
import type { Selection } from './selection';

export interface TlsOptions {
  /** 'auto' (default): capture TLS where possible, else say why; 'required': fail instead. */
  mode?: 'auto' | 'required';
  /** Only these processes (default: every process). */
  pids?: number[];
  /**
   * Only processes in this cgroup v2 (and its descendants), checked in the kernel at each
   * call: an absolute path, or one relative to the cgroup v2 mount. A capture of a cgroup
   * (`cgroup` option, captureCommand) sets it to that cgroup unless it is given.
   */
  cgroup?: string;
  /** More files to hook, by path: OpenSSL or GnuTLS libraries, binaries that export SSL_read/SSL_write, Go binaries. */
  targets?: string[];
  /** Also capture this process's own TLS calls (default false). */
  includeSelf?: boolean;
  /**
   * Also read the handshakes' secrets into `cap.tls.secrets` (default false): Go
   * binaries' writeKeyLog, and the key log of a command captureCommand runs. They
   * decrypt the captured traffic: handle them as the keys they are.
   */
  keys?: boolean;
  /** Ring buffer for TLS events, bytes (default 8 MiB). */
  bufferSize?: number;
}

export type TlsOption = boolean | 'auto' | 'required' | TlsOptions;
export type TlsMode = 'off' | 'auto' | 'required';

export interface TlsState {
  active: boolean;
  reason: string;
}

export function tlsMode(value: unknown): TlsMode {
  if (value === undefined || value === false) return 'off';
  if (value === true || value === 'auto') return 'auto';
  if (value === 'required') return 'required';
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const mode = (value as TlsOptions).mode ?? 'auto';
    if (mode === 'auto' || mode === 'required') return mode;
    throw new InvalidOptionError(`tls.mode must be 'auto' or 'required'; got ${JSON.stringify(mode)}`);
  }
  throw new InvalidOptionError(`tls must be false, true, 'auto', 'required' or an options object; got ${JSON.stringify(value)}`);
}

/**
 * Whether TLS capture can run beside the backend that is capturing, and why;
 * 'required' turns "cannot" into an error. `active: true` here means "will be
 * attempted". Called after the backend started: it reads the choice, never makes it.
 */
export function decideTls(mode: TlsMode, selection: Selection, report: ProbeReport, scope: string | null = null): TlsState {
  if (mode === 'off') return { active: false, reason: 'TLS capture was not requested' };
  let why: string;
  if (scope !== null && selection.backend === 'ebpf') {
    // Uprobes fire in every process that maps the library, wherever it runs: plaintext
    // from outside the namespace or cgroup asked for must not appear in its capture.
    why = `TLS capture is not confined to a network namespace, and this capture is ${scope}`;
    if (mode === 'auto') return { active: false, reason: `TLS capture is off: ${why}` };
  } else if (selection.backend === 'ebpf') {
    const { uprobe, btf } = report.features;
    // The plugin reads each call's connection from the kernel's socket structures,
    // relocated by the kernel's BTF: without it, its programs do not load.
    if (uprobe.ok && btf.ok) return { active: true, reason: `uprobes can be attached (${uprobe.reason})` };
    why = uprobe.ok ? `the TLS programs need kernel BTF: ${btf.reason}` : `uprobes cannot be attached here: ${uprobe.reason}`;
    if (mode === 'auto') return { active: false, reason: `TLS capture is off: ${why}` };
  } else {
    // The last word on eBPF says why packets go through raw-socket instead.
    const whyNotEbpf = selection.reasons.filter((r) => r.startsWith('ebpf')).at(-1) ?? selection.reasons[0];
    why = `TLS capture runs only on the eBPF backend, and packets are captured by raw-socket (${whyNotEbpf})`;
  }
  if (mode === 'required') throw new TlsUnavailableError(`tls: 'required' cannot be met: ${why}`);
  return { active: false, reason: why };
}
