// What this kernel and process can do, each feature tried for real once; lib/probe.ts
// interprets the answers.
#pragma once
#include <napi.h>

namespace tapwire {

// probe() → { kernelRelease, capabilities, bpf, tcProgram, ringBuffer, tcx, ... }, each
// feature as { ok, errno }.
Napi::Value Probe(const Napi::CallbackInfo& info);

}  // namespace tapwire
