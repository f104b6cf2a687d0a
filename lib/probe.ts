/**
 * What this kernel and this process can do, found by trying each thing for real once
 * (see native/probe/probe.cc), with a reason a person can act on for every answer.
 */
import os from 'node:os';
import { native, type NativeFeature, type NativeProbe, type ProgramCheck } from './native';

export type Capability = 'CAP_BPF' | 'CAP_PERFMON' | 'CAP_SYS_ADMIN' | 'CAP_NET_ADMIN' | 'CAP_NET_RAW' | 'CAP_SYS_RESOURCE';

export interface FeatureResult {
  ok: boolean;
  /** Why it works or why not, naming what to change. */
  reason: string;
  /** The kernel's errno when it refused (0 when ok or not a kernel refusal). */
  errno: number;
  /** Where the verifier refused a program: the end of its log, which says why. */
  log?: string;
}

export interface ProbeReport {
  kernelRelease: string;
  capabilities: Record<Capability, boolean>;
  features: {
    /** bpf(BPF_PROG_LOAD) of a trivial socket-filter program. */
    bpf: FeatureResult;
    /** A BPF ring buffer map can be created. */
    ringBuffer: FeatureResult;
    /** A TC (sched_cls) program can be loaded. */
    tcProgram: FeatureResult;
    /** The kernel has tcx attach points (Linux 6.6+). */
    tcx: FeatureResult;
    /** An AF_PACKET socket can be opened. */
    packetSocket: FeatureResult;
    /** The uprobe PMU exists and this process may attach uprobes. */
    uprobe: FeatureResult;
    /** Kernel BTF at /sys/kernel/btf/vmlinux. */
    btf: FeatureResult;
    /**
     * BPF maps of any size can be had: the kernel charges them to memory cgroups (Linux
     * 5.11+), or RLIMIT_MEMLOCK is unlimited, or CAP_SYS_RESOURCE lets libbpf raise it.
     */
    memlock: FeatureResult;
    /** The eBPF backend's real capture and filter programs for a packet socket load here. */
    socketCapture: FeatureResult;
    /** The eBPF backend's real capture and filter programs for tcx load here. */
    tcxCapture: FeatureResult;
    /** The eBPF backend's real capture and filter programs for a cgroup's inet hooks load here (the `cgroup` option). */
    cgroupCapture: FeatureResult;
    /**
     * `attribution: true` can run: the programs that record sockets' owners load, with
     * the capture programs that read them (tcx's where tcx works, else a cgroup's).
     */
    attribution: FeatureResult;
    /** `attribution: true` can run on interface captures: the attribution programs load with the tcx capture programs. */
    tcxAttribution: FeatureResult;
    /** The same with a cgroup's capture programs (the `cgroup` option). */
    cgroupAttribution: FeatureResult;
  };
}

const errnoNames = new Map<number, string>(Object.entries(os.constants.errno).map(([name, value]) => [value, name]));

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

const EPERM = os.constants.errno.EPERM;
const EACCES = os.constants.errno.EACCES;
const ENOSYS = os.constants.errno.ENOSYS;
const EINVAL = os.constants.errno.EINVAL;
const ENOENT = os.constants.errno.ENOENT;

function bpfFeature(r: NativeFeature, what: string, okText: string): FeatureResult {
  if (r.ok) return { ok: true, reason: okText, errno: 0 };
  const name = errnoName(r.errno);
  let why: string;
  if (r.errno === ENOSYS) {
    why = 'the bpf() system call is not available (ENOSYS): the kernel lacks CONFIG_BPF_SYSCALL or a seccomp filter blocks it';
  } else if (r.errno === EPERM || r.errno === EACCES) {
    why = `${what} was refused (${name}): run as root or grant CAP_BPF (or CAP_SYS_ADMIN)`;
  } else if (r.errno === EINVAL) {
    why = `${what} is not supported by this kernel (EINVAL)`;
  } else {
    why = `${what} failed (${name})`;
  }
  return { ok: false, reason: why, errno: r.errno };
}

/**
 * Whether the capture programs of one attach mode load: only tried once what they need
 * works, since a program the kernel cannot even be asked to load teaches nothing.
 */
function captureFeature(mode: 'socket' | 'tcx' | 'cgroup', needs: FeatureResult[]): FeatureResult {
  const missing = needs.find((f) => !f.ok);
  if (missing) return { ok: false, reason: `not tried: ${missing.reason}`, errno: missing.errno };
  const r: ProgramCheck = native().probeCapturePrograms(mode);
  if (r.ok) return { ok: true, reason: `the kernel's verifier accepts the ${mode} capture programs`, errno: 0 };
  const said = r.log ? verifierVerdict(r.log) : '';
  return {
    ok: false,
    errno: r.errno,
    reason:
      `the kernel refused the ${mode} capture program${r.program ? ` ${r.program}` : ''} ` +
      `(${errnoName(r.errno)})${said ? `: ${said}` : `: ${r.message}`}`,
    ...(r.log ? { log: r.log } : {}),
  };
}

/** Loads the attribution programs with `mode`'s capture programs; the iterator's fate in `before`. */
function attributionCheck(mode: 'tcx' | 'cgroup', base: FeatureResult): FeatureResult & { before?: string } {
  if (!base.ok)
    return { ok: false, reason: base.reason.startsWith('not tried') ? base.reason : `not tried: ${base.reason}`, errno: base.errno };
  const r = native().probeAttribution(mode);
  if (!r.ok) {
    const said = r.log ? verifierVerdict(r.log) : '';
    return {
      ok: false,
      errno: r.errno,
      reason: `the kernel refused ${r.program ?? 'the attribution programs'} with the ${mode} capture programs (${errnoName(r.errno)})${said ? `: ${said}` : `: ${r.message}`}`,
      ...(r.log ? { log: r.log } : {}),
    };
  }
  const refused = `the kernel refused the task-file iterator (${r.iteratorLog ? verifierVerdict(r.iteratorLog) : r.iteratorMessage})`;
  const before = r.iterator
    ? 'sockets open before a capture are found by a task-file iterator'
    : r.pidfdGetfd
      ? `sockets open before a capture are found through /proc and pidfd_getfd (those of processes this one may not trace are named once used), as ${refused}`
      : `sockets open before a capture are not named until used: ${refused}, and this kernel has no pidfd_getfd (Linux 5.6+)`;
  return {
    ok: true,
    errno: 0,
    reason: `the kernel's verifier accepts the attribution programs and the ${mode} capture programs reading them`,
    before,
  };
}

/** `attribution` (for some capture), `tcxAttribution` (interface captures) and `cgroupAttribution`. */
function attributionFeatures(
  tcxCapture: FeatureResult,
  cgroupCapture: FeatureResult,
): { attribution: FeatureResult; tcxAttribution: FeatureResult; cgroupAttribution: FeatureResult } {
  const { before: tcxBefore, ...tcx } = attributionCheck('tcx', tcxCapture);
  const { before: cgroupBefore, ...cgroup } = attributionCheck('cgroup', cgroupCapture);
  const before = tcxBefore ?? cgroupBefore;
  let attribution: FeatureResult;
  if (tcx.ok && cgroup.ok) attribution = { ok: true, errno: 0, reason: `for interface (tcx) and cgroup captures; ${before}` };
  else if (tcx.ok)
    attribution = { ok: true, errno: 0, reason: `for interface (tcx) captures, not cgroup ones (${cgroup.reason}); ${before}` };
  else if (cgroup.ok)
    attribution = { ok: true, errno: 0, reason: `for cgroup captures only (interface captures: ${tcx.reason}); ${before}` };
  else attribution = cgroup;
  return { attribution, tcxAttribution: tcx, cgroupAttribution: cgroup };
}

function memlockFeature(raw: NativeProbe['memlock'], caps: Record<Capability, boolean>, bpf: FeatureResult): FeatureResult {
  if (raw.ok) return { ok: true, errno: 0, reason: 'the kernel charges BPF memory to memory cgroups, not RLIMIT_MEMLOCK' };
  if (!bpf.ok) return { ok: false, errno: raw.errno, reason: `not tried: ${bpf.reason}` };
  // Said without the limit's value where it cannot refuse: libbpf raises it at the
  // first load, so the value changes under a running process.
  const charged = 'this kernel charges BPF maps to RLIMIT_MEMLOCK (before Linux 5.11)';
  if (caps.CAP_SYS_RESOURCE) return { ok: true, errno: 0, reason: `${charged}; CAP_SYS_RESOURCE lets libbpf lift the limit` };
  if (raw.limit < 0) return { ok: true, errno: 0, reason: `${charged}, which is unlimited here` };
  return {
    ok: false,
    errno: raw.errno,
    reason:
      `${charged}, ${Math.round(raw.limit / 1024)} KiB here, and without CAP_SYS_RESOURCE it cannot be raised: a capture ring ` +
      'larger than that is refused (EPERM). Raise it (ulimit -l unlimited; docker run --ulimit memlock=-1; ' +
      'systemd LimitMEMLOCK=infinity) or grant CAP_SYS_RESOURCE',
  };
}

/** The verifier's complaint: the last line of its log that is not a statistic. */
export function verifierVerdict(log: string): string {
  const lines = log
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const said = lines.filter((l) => !/^(processed \d+ insns|verification time|stack depth|-- END PROG LOAD LOG --|libbpf:)/.test(l));
  return said.at(-1) ?? lines.at(-1) ?? '';
}

function interpret(raw: NativeProbe): ProbeReport {
  const caps = raw.capabilities as Record<Capability, boolean>;
  const packetSocket: FeatureResult = raw.packetSocket.ok
    ? { ok: true, reason: 'opened an AF_PACKET socket', errno: 0 }
    : {
        ok: false,
        errno: raw.packetSocket.errno,
        reason:
          raw.packetSocket.errno === EPERM || raw.packetSocket.errno === EACCES
            ? `opening an AF_PACKET socket was refused (${errnoName(raw.packetSocket.errno)}): run as root or grant CAP_NET_RAW`
            : `opening an AF_PACKET socket failed (${errnoName(raw.packetSocket.errno)})`,
      };
  let uprobe: FeatureResult;
  if (!raw.uprobe.ok) {
    uprobe = {
      ok: false,
      errno: raw.uprobe.errno,
      reason: `the uprobe PMU is missing (/sys/bus/event_source/devices/uprobe/type: ${errnoName(raw.uprobe.errno)}): kernel without CONFIG_UPROBE_EVENTS`,
    };
  } else if (!caps.CAP_SYS_ADMIN) {
    uprobe = {
      ok: false,
      errno: EPERM,
      reason: 'attaching uprobes needs CAP_SYS_ADMIN on this kernel, which this process does not hold',
    };
  } else {
    uprobe = { ok: true, reason: 'uprobe PMU present and CAP_SYS_ADMIN held', errno: 0 };
  }
  const bpf = bpfFeature(raw.bpf, 'loading a BPF program', 'loaded a socket-filter program');
  const ringBuffer = bpfFeature(raw.ringBuffer, 'creating a BPF ring buffer map', 'created a ring buffer map');
  const tcProgram = bpfFeature(raw.tcProgram, 'loading a TC (sched_cls) program', 'loaded a TC program');
  const tcx: FeatureResult = raw.tcx.ok
    ? { ok: true, reason: 'the kernel has tcx attach points', errno: 0 }
    : {
        ok: false,
        errno: raw.tcx.errno,
        reason: `no tcx attach points (${errnoName(raw.tcx.errno)}): tcx needs Linux 6.6 or later`,
      };
  const btf: FeatureResult = raw.btf.ok
    ? { ok: true, reason: 'kernel BTF at /sys/kernel/btf/vmlinux', errno: 0 }
    : {
        ok: false,
        errno: raw.btf.errno,
        reason:
          raw.btf.errno === ENOENT
            ? 'no kernel BTF (/sys/kernel/btf/vmlinux missing): kernel without CONFIG_DEBUG_INFO_BTF'
            : `kernel BTF unreadable (${errnoName(raw.btf.errno)})`,
      };
  const tcxCapture = captureFeature('tcx', [tcProgram, ringBuffer, tcx]);
  const cgroupCapture = captureFeature('cgroup', [bpf, ringBuffer]);
  return {
    kernelRelease: raw.kernelRelease,
    capabilities: caps,
    features: {
      bpf,
      ringBuffer,
      tcProgram,
      tcx,
      packetSocket,
      uprobe,
      btf,
      memlock: memlockFeature(raw.memlock, caps, bpf),
      socketCapture: captureFeature('socket', [bpf, ringBuffer]),
      tcxCapture,
      cgroupCapture,
      ...attributionFeatures(tcxCapture, cgroupCapture),
    },
  };
}

function unavailable(reason: string): ProbeReport {
  const no: FeatureResult = { ok: false, reason, errno: 0 };
  return {
    kernelRelease: os.release(),
    capabilities: {
      CAP_BPF: false,
      CAP_PERFMON: false,
      CAP_SYS_ADMIN: false,
      CAP_NET_ADMIN: false,
      CAP_NET_RAW: false,
      CAP_SYS_RESOURCE: false,
    },
    features: {
      bpf: no,
      ringBuffer: no,
      tcProgram: no,
      tcx: no,
      packetSocket: no,
      uprobe: no,
      btf: no,
      memlock: no,
      socketCapture: no,
      tcxCapture: no,
      cgroupCapture: no,
      attribution: no,
      tcxAttribution: no,
      cgroupAttribution: no,
    },
  };
}

let cached: Promise<ProbeReport> | undefined;

/** Probes once per process; never rejects (a failure is a report that says why). */
export function probe(): Promise<ProbeReport> {
  cached ??= (async () => {
    if (process.platform !== 'linux') return unavailable(`tapwire captures on Linux only (this is ${process.platform})`);
    try {
      return interpret(native().probe());
    } catch (err) {
      return unavailable(`the tapwire native addon could not run: ${(err as Error).message}`);
    }
  })();
  return cached;
}
