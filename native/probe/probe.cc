// Each check does the real thing once (load a two-instruction program, create a ring
// buffer map, open a packet socket) and reports the errno the kernel gave. Interpreting
// the results (reasons, advice, what a backend needs) is lib/probe.ts's job.
#include "probe.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <napi.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../ebpf/bpf/capture.h"

namespace tapwire {

namespace {

constexpr int kLoopbackIfindex = 1;

long Bpf(int cmd, union bpf_attr* attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

Napi::Object Result(Napi::Env env, bool ok, int err) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("ok", ok);
  r.Set("errno", ok ? 0 : err);
  return r;
}

// fd-returning call: ok when it returned a descriptor, which is closed at once.
Napi::Object FdResult(Napi::Env env, long fd) {
  int err = errno;
  if (fd >= 0) close(int(fd));
  return Result(env, fd >= 0, err);
}

Napi::Object LoadProgram(Napi::Env env, bpf_prog_type type) {
  struct bpf_insn insns[2];
  memset(insns, 0, sizeof(insns));
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = 0
  insns[1].code = BPF_JMP | BPF_EXIT;
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = type;
  attr.insns = reinterpret_cast<uintptr_t>(insns);
  attr.insn_cnt = 2;
  attr.license = reinterpret_cast<uintptr_t>("GPL");
  return FdResult(env, Bpf(BPF_PROG_LOAD, &attr));
}

Napi::Object CreateRingBuffer(Napi::Env env) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_RINGBUF;
  attr.max_entries = uint32_t(sysconf(_SC_PAGESIZE));
  return FdResult(env, Bpf(BPF_MAP_CREATE, &attr));
}

// Asking the kernel which tcx programs sit on loopback changes nothing, and fails
// with EINVAL on kernels that have no tcx attach types.
Napi::Object QueryTcx(Napi::Env env) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.query.target_fd = kLoopbackIfindex;
  attr.query.attach_type = TAPWIRE_TCX_INGRESS;
  long rc = Bpf(BPF_PROG_QUERY, &attr);
  return Result(env, rc == 0, errno);
}

Napi::Object Capabilities(Napi::Env env) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  Napi::Object caps = Napi::Object::New(env);
  bool ok = syscall(SYS_capget, &hdr, data) == 0;
  struct {
    const char* name;
    int bit;
  } wanted[] = {
      {"CAP_NET_ADMIN", CAP_NET_ADMIN}, {"CAP_NET_RAW", CAP_NET_RAW}, {"CAP_SYS_ADMIN", CAP_SYS_ADMIN},
      {"CAP_PERFMON", CAP_PERFMON},     {"CAP_BPF", CAP_BPF},         {"CAP_SYS_RESOURCE", CAP_SYS_RESOURCE},
  };
  for (auto& w : wanted) {
    bool held = ok && (data[w.bit / 32].effective & (1u << (w.bit % 32)));
    caps.Set(w.name, held);
  }
  return caps;
}

// Whether BPF maps count against RLIMIT_MEMLOCK (kernels before 5.11): with the soft
// limit at zero for a moment, a one-element map can be created only where the kernel
// charges memory cgroups instead. Lowering and restoring the soft limit needs no
// privilege. ok: not charged; limit: the soft limit, -1 if unlimited.
Napi::Object MemlockCharge(Napi::Env env) {
  struct rlimit old;
  if (getrlimit(RLIMIT_MEMLOCK, &old) != 0) return Result(env, false, errno);
  struct rlimit none = {0, old.rlim_max};
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 8;
  attr.max_entries = 1;
  long fd = -1;
  int err = 0;
  if (setrlimit(RLIMIT_MEMLOCK, &none) == 0) {
    fd = Bpf(BPF_MAP_CREATE, &attr);
    err = errno;
    setrlimit(RLIMIT_MEMLOCK, &old);
  } else {
    err = errno;
  }
  if (fd >= 0) close(int(fd));
  Napi::Object r = Result(env, fd >= 0, err);
  r.Set("limit", old.rlim_cur == RLIM_INFINITY ? -1.0 : double(old.rlim_cur));
  return r;
}

Napi::Object FileReadable(Napi::Env env, const char* path) {
  bool ok = access(path, R_OK) == 0;
  return Result(env, ok, errno);
}

}  // namespace

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object report = Napi::Object::New(env);
  struct utsname u;
  report.Set("kernelRelease", uname(&u) == 0 ? u.release : "unknown");
  report.Set("capabilities", Capabilities(env));
  report.Set("bpf", LoadProgram(env, BPF_PROG_TYPE_SOCKET_FILTER));
  report.Set("tcProgram", LoadProgram(env, BPF_PROG_TYPE_SCHED_CLS));
  report.Set("ringBuffer", CreateRingBuffer(env));
  report.Set("tcx", QueryTcx(env));
  report.Set("packetSocket", FdResult(env, socket(AF_PACKET, SOCK_RAW, 0)));
  report.Set("uprobe", FileReadable(env, "/sys/bus/event_source/devices/uprobe/type"));
  report.Set("btf", FileReadable(env, "/sys/kernel/btf/vmlinux"));
  report.Set("memlock", MemlockCharge(env));
  return report;
}

}  // namespace tapwire
