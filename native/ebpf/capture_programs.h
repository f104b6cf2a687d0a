// Loading what the eBPF backend runs: the capture object (capture.bpf.c, one skeleton
// per capture) for one attach mode, and the filter programs translated from classic
// BPF. Shared by the capture and by the probe, which loads the same programs to learn
// whether this kernel's verifier accepts them.
#pragma once
#include <napi.h>
#include <linux/bpf.h>

#include <stdint.h>

#include <functional>
#include <string>
#include <vector>

#include "../common/bpf_objects.h"
#include "../common/fd.h"
#include "filter_program.h"

struct capture;

namespace tapwire {

// Where the capture's programs run: tcx hooks, packet sockets, or a cgroup's inet hooks.
enum class Hook { kTcx, kSocket, kCgroup };

Hook HookNamed(const std::string& name);

// What a filter program for `hook` is loaded as, and what it returns when it does not
// tail-call (a cgroup program's return value decides whether the packet passes).
bpf_prog_type FilterProgramType(Hook hook);
int FallbackVerdict(Hook hook);

struct CaptureProgramsSpec {
  Hook hook = Hook::kSocket;
  uint32_t ringSize = 0;
  uint64_t wakeupBytes = 0;
  // The owners' socket-local storage (OwnerHooks) when records carry each packet's
  // owner; -1 when they do not.
  int ownersFd = -1;
};

// The program array the filter programs of `hook` tail-call through.
int SlotsFd(struct capture* skel, Hook hook);

// The loaded skeleton, its program array filled; throws a JS error carrying the
// verifier's reason (`log`) and the program (`program`) when the kernel refuses.
Skeleton<struct capture> LoadCapturePrograms(Napi::Env env, const CaptureProgramsSpec& spec);

// A filter program; throws as above (`EFILTER` when it has no eBPF form).
Fd LoadFilterProgram(Napi::Env env, bpf_prog_type type, const struct sock_filter* code, size_t count, const FilterProgramSpec& spec);

// Loads `hook`'s capture programs (a ring of one page, reading the owners' storage
// `ownersFd` unless it is -1) and a filter program tail-calling them, then frees them;
// throws as LoadCapturePrograms does.
void LoadProbePrograms(Napi::Env env, Hook hook, int ownersFd);

// A probe's answer: { ok, errno } once `attempt` returns (it may add to the result),
// else { ok: false, errno, message, log?, program? } from the error it threw.
Napi::Object ProbeResult(Napi::Env env, const std::function<void(Napi::Object&)>& attempt);

// probeCapturePrograms('tcx' | 'socket' | 'cgroup') → ProbeResult of LoadProbePrograms.
Napi::Value ProbeCapturePrograms(const Napi::CallbackInfo& info);

}  // namespace tapwire
