// Loading what the eBPF backend runs: the capture object (capture.bpf.c, one skeleton
// per capture) for one attach mode, and the filter programs translated from classic
// BPF. Shared by the capture and by the probe, which loads the same programs to learn
// whether this kernel's verifier accepts them.
#pragma once
#include <napi.h>
#include <linux/bpf.h>

#include <stdint.h>
#include <vector>

#include "../common/bpf_objects.h"
#include "../common/fd.h"
#include "filter_program.h"

struct capture;

namespace tapwire {

struct CaptureProgramsSpec {
  bool tcx = false;
  uint32_t ringSize = 0;
  uint64_t wakeupBytes = 0;
};

// The loaded skeleton, its program array filled; throws a JS error carrying the
// verifier's reason (`log`) and the program (`program`) when the kernel refuses.
Skeleton<struct capture> LoadCapturePrograms(Napi::Env env, const CaptureProgramsSpec& spec);

// A filter program; throws as above (`EFILTER` when it has no eBPF form).
Fd LoadFilterProgram(Napi::Env env, bpf_prog_type type, const struct sock_filter* code, size_t count,
                     const FilterProgramSpec& spec);

// probeCapturePrograms('tcx' | 'socket') → { ok, errno, reason? }: loads that mode's
// capture and filter programs (a ring of one page) and frees them.
Napi::Value ProbeCapturePrograms(const Napi::CallbackInfo& info);

}  // namespace tapwire
