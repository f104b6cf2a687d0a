#include "capture_programs.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "../common/errors.h"
#include "../common/verifier_log.h"
#include "bpf/capture.h"
#include "capture.skel.h"

namespace tapwire {

namespace {

// A verifier's refusal carries its log and the program; anything else (a map the
// kernel would not create, say) is a system error.
Napi::Error Refused(Napi::Env env, const char* what, int err, const std::string& program, const std::string& log) {
  Napi::Error e = SystemError(env, what, err);
  if (log.empty()) return e;
  e.Set("program", Napi::String::New(env, program));
  e.Set("log", Napi::String::New(env, log));
  return e;
}

}  // namespace

Hook HookNamed(const std::string& name) {
  if (name == "tcx") return Hook::kTcx;
  if (name == "cgroup") return Hook::kCgroup;
  return Hook::kSocket;
}

bpf_prog_type FilterProgramType(Hook hook) {
  switch (hook) {
    case Hook::kTcx:
      return BPF_PROG_TYPE_SCHED_CLS;
    case Hook::kCgroup:
      return BPF_PROG_TYPE_CGROUP_SKB;
    default:
      return BPF_PROG_TYPE_SOCKET_FILTER;
  }
}

int FallbackVerdict(Hook hook) {
  switch (hook) {
    case Hook::kTcx:
      return TAPWIRE_TCX_NEXT;
    case Hook::kCgroup:
      return 1;  // pass: capturing never drops a packet
    default:
      return 0;  // a packet socket's filter: queue nothing
  }
}

int SlotsFd(struct capture* skel, Hook hook) {
  switch (hook) {
    case Hook::kTcx:
      return bpf_map__fd(skel->maps.tw_tc_slots);
    case Hook::kCgroup:
      return bpf_map__fd(skel->maps.tw_cg_slots);
    default:
      return bpf_map__fd(skel->maps.tw_sock_slots);
  }
}

Skeleton<struct capture> LoadCapturePrograms(Napi::Env env, const CaptureProgramsSpec& spec) {
  Skeleton<struct capture> skel(capture::open());
  if (!skel) throw SystemError(env, "bpf_object__open (capture)", errno);
  VerifierLog log;
  if (int err = bpf_map__set_max_entries(skel->maps.tw_records, spec.ringSize)) throw SystemError(env, "bpf_map__set_max_entries", -err);
  skel->rodata->wakeup_bytes = spec.wakeupBytes;
  skel->rodata->attribution = spec.ownersFd >= 0;
  // Without attribution the storage and the flow cache are never read, but they are made
  // all the same (the cache with one slot): without CAP_PERFMON a verifier also walks the
  // paths a mispredicted branch could take, the attribution code behind `if (!attribution)`
  // among them, and until it learned to fence such paths instead (Debian's 6.12 has not;
  // 6.18 has) it refuses the program if a map that code names was not made.
  if (spec.ownersFd >= 0) {
    if (int err = bpf_map__reuse_fd(skel->maps.tw_owners, spec.ownersFd)) throw SystemError(env, "bpf_map__reuse_fd", -err);
  } else if (int err = bpf_map__set_max_entries(skel->maps.tw_flow_owners, 1)) {
    throw SystemError(env, "bpf_map__set_max_entries", -err);
  }
  // Load only what this hook runs: tc and cgroup programs need CAP_NET_ADMIN, socket
  // filters do not.
  struct bpf_program* copy = spec.hook == Hook::kTcx      ? skel->progs.tw_tc_copy
                             : spec.hook == Hook::kCgroup ? skel->progs.tw_cg_copy
                                                          : skel->progs.tw_sock_copy;
  struct bpf_program* reject = spec.hook == Hook::kTcx      ? skel->progs.tw_tc_reject
                               : spec.hook == Hook::kCgroup ? skel->progs.tw_cg_reject
                                                            : skel->progs.tw_sock_reject;
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, prog == copy || prog == reject);
  // One buffer serves both: libbpf stops at the first program the kernel refuses.
  log.Catch(copy);
  log.Catch(reject);
  if (int err = capture::load(skel.get())) {
    bool copyLoaded = bpf_program__fd(copy) >= 0;
    throw Refused(env, "loading the capture object", -err, bpf_program__name(copyLoaded ? reject : copy), log.Reason());
  }
  int slots = SlotsFd(skel.get(), spec.hook);
  int copyFd = bpf_program__fd(copy), rejectFd = bpf_program__fd(reject);
  uint32_t copySlot = TAPWIRE_SLOT_COPY, rejectSlot = TAPWIRE_SLOT_REJECT;
  if (bpf_map_update_elem(slots, &copySlot, &copyFd, BPF_ANY) != 0 || bpf_map_update_elem(slots, &rejectSlot, &rejectFd, BPF_ANY) != 0)
    throw SystemError(env, "bpf(BPF_MAP_UPDATE_ELEM) of the program array", errno);
  return skel;
}

Fd LoadFilterProgram(Napi::Env env, bpf_prog_type type, const struct sock_filter* code, size_t count, const FilterProgramSpec& spec) {
  std::vector<struct bpf_insn> insns;
  try {
    insns = TranslateFilter(code, count, spec);
  } catch (const FilterTranslationError& e) {
    throw PlainError(env, e.what(), "EFILTER");
  }
  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  Fd fd(bpf_prog_load(type, "tw_filter", "GPL", insns.data(), insns.size(), &opts));
  if (fd) return fd;
  int err = errno;
  // Load again with the verifier's log, only to explain the failure.
  VerifierLog log;
  opts.log_buf = log.data();
  opts.log_size = uint32_t(log.size());
  opts.log_level = 1;
  Fd again(bpf_prog_load(type, "tw_filter", "GPL", insns.data(), insns.size(), &opts));
  if (again) return again;
  throw Refused(env, "bpf(BPF_PROG_LOAD) of the filter program", err, "tw_filter", log.Reason());
}

void LoadProbePrograms(Napi::Env env, Hook hook, int ownersFd) {
  CaptureProgramsSpec spec;
  spec.hook = hook;
  spec.ringSize = uint32_t(sysconf(_SC_PAGESIZE));
  spec.wakeupBytes = spec.ringSize;
  spec.ownersFd = ownersFd;
  Skeleton<struct capture> skel = LoadCapturePrograms(env, spec);
  // What an empty pcap filter compiles to: accept, keeping 96 bytes.
  struct sock_filter accept = {BPF_RET | BPF_K, 0, 0, 96};
  FilterProgramSpec fspec;
  fspec.slotsFd = SlotsFd(skel.get(), spec.hook);
  fspec.direction = spec.hook == Hook::kSocket ? -1 : 0;
  fspec.fallback = FallbackVerdict(spec.hook);
  LoadFilterProgram(env, FilterProgramType(spec.hook), &accept, 1, fspec);
}

Napi::Object ProbeResult(Napi::Env env, const std::function<void(Napi::Object&)>& attempt) {
  Napi::Object result = Napi::Object::New(env);
  try {
    attempt(result);
    result.Set("ok", true);
    result.Set("errno", 0);
  } catch (const Napi::Error& e) {
    Napi::Object error = e.Value();
    result.Set("ok", false);
    result.Set("errno", error.Has("errno") ? error.Get("errno") : Napi::Number::New(env, 0));
    result.Set("message", error.Get("message"));
    if (error.Has("log")) result.Set("log", error.Get("log"));
    if (error.Has("program")) result.Set("program", error.Get("program"));
  }
  return result;
}

Napi::Value ProbeCapturePrograms(const Napi::CallbackInfo& info) {
  Hook hook = HookNamed(info[0].As<Napi::String>().Utf8Value());
  return ProbeResult(info.Env(), [&](Napi::Object&) { LoadProbePrograms(info.Env(), hook, -1); });
}

}  // namespace tapwire
