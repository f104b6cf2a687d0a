/**
 * Every error tapwire throws is a TapwireError with a stable `code`; where the kernel
 * refused something, `errno` and `syscall` say what and why.
 */
import os from 'node:os';

export type ErrorCode =
  | 'ERR_NO_BACKEND'
  | 'ERR_BACKEND_UNAVAILABLE'
  | 'ERR_PERMISSION'
  | 'ERR_BAD_FILTER'
  | 'ERR_NO_SUCH_INTERFACE'
  | 'ERR_INTERFACE_GONE'
  | 'ERR_NO_SUCH_NAMESPACE'
  | 'ERR_NO_SUCH_CGROUP'
  | 'ERR_INVALID_OPTION'
  | 'ERR_TLS_UNAVAILABLE'
  | 'ERR_ATTRIBUTION_UNAVAILABLE'
  | 'ERR_PLUGIN_UNSUPPORTED'
  | 'ERR_CLOSED'
  | 'ERR_BUSY'
  | 'ERR_RELEASED'
  | 'ERR_FILE'
  | 'ERR_PROGRAM_REJECTED'
  | 'ERR_UNSUPPORTED_PLATFORM'
  | 'ERR_SYSTEM'
  | 'ERR_MISSING_DEPENDENCY';

export interface TapwireErrorDetails {
  errno?: number;
  syscall?: string;
  cause?: unknown;
}

export class TapwireError extends Error {
  readonly code: ErrorCode;
  readonly errno?: number;
  readonly syscall?: string;

  constructor(code: ErrorCode, message: string, details: TapwireErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    if (details.errno !== undefined) this.errno = details.errno;
    if (details.syscall !== undefined) this.syscall = details.syscall;
  }
}

/** No backend can run here; the message names every reason. */
export class NoBackendError extends TapwireError {
  constructor(message: string, details?: TapwireErrorDetails) {
    super('ERR_NO_BACKEND', message, details);
  }
}

/** The backend the caller forced cannot run here; the message gives the probe's reason. */
export class BackendUnavailableError extends TapwireError {
  constructor(message: string, details?: TapwireErrorDetails) {
    super('ERR_BACKEND_UNAVAILABLE', message, details);
  }
}

export class PermissionError extends TapwireError {
  constructor(message: string, details?: TapwireErrorDetails) {
    super('ERR_PERMISSION', message, details);
  }
}

export class BadFilterError extends TapwireError {
  /**
   * 'expression': libpcap refused it, so no backend can run it; 'kernel': a valid
   * expression this backend's kernel path cannot run (another backend may).
   */
  readonly refusedBy: 'expression' | 'kernel';

  constructor(message: string, refusedBy: 'expression' | 'kernel' = 'expression') {
    super('ERR_BAD_FILTER', message);
    this.refusedBy = refusedBy;
  }
}

export class NoSuchInterfaceError extends TapwireError {
  /** `where`: the network namespace looked in, when not this process's. */
  constructor(name: string, where?: string) {
    super('ERR_NO_SUCH_INTERFACE', `no such network interface: ${JSON.stringify(name)}${where ? ` in ${where}` : ''}`);
  }
}

/** A named interface went away (deleted, or moved to another network namespace) during a capture. */
export class InterfaceGoneError extends TapwireError {
  readonly interface: string;

  constructor(name: string) {
    super('ERR_INTERFACE_GONE', `the network interface ${JSON.stringify(name)} disappeared: the capture on it has ended`);
    this.interface = name;
  }
}

/** The `netns` option names no network namespace: nothing there, or not a namespace. */
export class NoSuchNamespaceError extends TapwireError {
  readonly path: string;

  constructor(path: string, why: string, details?: TapwireErrorDetails) {
    super('ERR_NO_SUCH_NAMESPACE', `no network namespace at ${path}: ${why}`, details);
    this.path = path;
  }
}

/** The `cgroup` option names no cgroup v2 directory: nothing there, a v1 hierarchy, or not a cgroup. */
export class NoSuchCgroupError extends TapwireError {
  readonly path: string;

  constructor(path: string, why: string, details?: TapwireErrorDetails) {
    super('ERR_NO_SUCH_CGROUP', `no cgroup v2 at ${path}: ${why}`, details);
    this.path = path;
  }
}

export class InvalidOptionError extends TapwireError {
  constructor(message: string) {
    super('ERR_INVALID_OPTION', message);
  }
}

/** An optional package a feature needs (tapwire/conversations' parsers) is not installed. */
export class MissingDependencyError extends TapwireError {
  constructor(message: string, cause?: unknown) {
    super('ERR_MISSING_DEPENDENCY', message, { cause });
  }
}

export class TlsUnavailableError extends TapwireError {
  constructor(message: string) {
    super('ERR_TLS_UNAVAILABLE', message);
  }
}

/** `attribution: true` cannot be met by the backend this host captures with; the message says why. */
export class AttributionUnavailableError extends TapwireError {
  constructor(message: string, details?: TapwireErrorDetails) {
    super('ERR_ATTRIBUTION_UNAVAILABLE', message, details);
  }
}

export class PluginUnsupportedError extends TapwireError {
  constructor(message: string) {
    super('ERR_PLUGIN_UNSUPPORTED', message);
  }
}

export class ClosedError extends TapwireError {
  constructor(what = 'capturer') {
    super('ERR_CLOSED', `the ${what} is closed`);
  }
}

export class BusyError extends TapwireError {
  constructor(message: string) {
    super('ERR_BUSY', message);
  }
}

/** A zero-copy batch was read after its memory went back to the kernel (`zeroCopy`). */
export class ReleasedError extends TapwireError {
  constructor() {
    super(
      'ERR_RELEASED',
      'this batch was released: its memory went back to the kernel when the next batch was taken or release() was called (keep one with batch.copy())',
    );
  }
}

/**
 * The kernel's verifier refused one of tapwire's BPF programs: `log` holds the end of
 * the verifier's log (what it refused, and after how many instructions).
 */
export class ProgramRejectedError extends TapwireError {
  readonly program?: string;
  readonly log: string;

  constructor(message: string, details: TapwireErrorDetails & { program?: string; log: string }) {
    super('ERR_PROGRAM_REJECTED', message, details);
    if (details.program !== undefined) this.program = details.program;
    this.log = details.log;
  }
}

export interface FileErrorDetails extends TapwireErrorDetails {
  /** The file, when the error concerns one on disk. */
  path?: string;
  /** Byte offset in the file of the block or record that is wrong. */
  offset?: number;
}

/** A capture file that cannot be opened, read (bad format: `offset` says where) or written as asked. */
export class FileError extends TapwireError {
  readonly path?: string;
  readonly offset?: number;

  constructor(message: string, details: FileErrorDetails = {}) {
    super('ERR_FILE', message, details);
    if (details.path !== undefined) this.path = details.path;
    if (details.offset !== undefined) this.offset = details.offset;
  }
}

const { EPERM, EACCES } = os.constants.errno;

/**
 * What the native layer throws (native/common/errors.h): an Error with the kernel's
 * `errno` and the failing `syscall`, and a `nativeCode` where the step that failed says
 * more than the call: EFILTER, a filter the kernel path cannot take (libpcap's message,
 * a filter with no eBPF form, or the kernel refusing to attach it); ECLOSED, a native
 * source used after close(). A BPF program the verifier refused adds its `log` and name;
 * `attribution` marks a failure of what attributes packets (native/ebpf/owner_hooks.cc).
 */
export interface NativeError extends Error {
  errno?: number;
  syscall?: string;
  nativeCode?: 'EFILTER' | 'ECLOSED';
  log?: string;
  program?: string;
  attribution?: boolean;
}

/**
 * Turns a native failure into a TapwireError. `needs` names the capabilities the
 * failing step requires, so a permission error says what to grant.
 */
export function fromNative(err: unknown, action: string, needs: string): TapwireError {
  if (err instanceof TapwireError) return err;
  const e = err as NativeError;
  const details = { errno: e.errno, syscall: e.syscall, cause: err };
  if (e.errno === EPERM || e.errno === EACCES) {
    return new PermissionError(
      `${action}: ${e.message}. Run as root or grant ${needs} ` +
        `(for example: sudo setcap ${needs.toLowerCase().replace(/\+/g, ',')}+ep "$(readlink -f "$(which node)")")`,
      details,
    );
  }
  return new TapwireError('ERR_SYSTEM', `${action}: ${e.message}`, details);
}

/** Turns a failed file system call (Node's errors) into a FileError: "cannot <action> <path>: <why>". */
export function fromFileSystem(err: unknown, action: string, path: string | undefined): TapwireError {
  if (err instanceof TapwireError) return err;
  const e = err as NodeJS.ErrnoException;
  // Node says "ENOENT: no such file or directory, open '/x'"; keep the reason and the code.
  const why = /^(E[A-Z0-9]+): ([^,]+)/.exec(e.message ?? '');
  return new FileError(`cannot ${action} ${path ?? 'the capture file'}: ${why ? `${why[2]} (${why[1]})` : e.message}`, {
    path,
    errno: typeof e.errno === 'number' ? Math.abs(e.errno) : undefined,
    syscall: e.syscall,
    cause: err,
  });
}
