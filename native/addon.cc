#include <napi.h>

#include "common/instance.h"
#include "common/interfaces.h"
#include "common/libbpf_log.h"
#include "common/link_watch.h"
#include "common/netns.h"
#include "ebpf/capture_programs.h"
#include "ebpf/ebpf_capture.h"
#include "ebpf/owner_hooks.h"
#include "filter/filter.h"
#include "probe/probe.h"
#include "file/savefile.h"
#include "raw_socket/packet_ring.h"
#include "tls/tls_capture.h"

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tapwire::Instance::Create(env);
  tapwire::LibbpfLog::Route();
  exports.Set("probe", Napi::Function::New<tapwire::Probe>(env, "probe"));
  exports.Set("compileFilter", Napi::Function::New<tapwire::CompileFilter>(env, "compileFilter"));
  exports.Set("matchFilter", Napi::Function::New<tapwire::MatchFilter>(env, "matchFilter"));
  exports.Set("libpcapRecord", Napi::Function::New<tapwire::LibpcapRecord>(env, "libpcapRecord"));
  exports.Set("probeCapturePrograms", Napi::Function::New<tapwire::ProbeCapturePrograms>(env, "probeCapturePrograms"));
  exports.Set("probeAttribution", Napi::Function::New<tapwire::ProbeAttribution>(env, "probeAttribution"));
  exports.Set("filterVerdicts", Napi::Function::New<tapwire::FilterVerdicts>(env, "filterVerdicts"));
  exports.Set("interfaceInfo", Napi::Function::New<tapwire::InterfaceInfo>(env, "interfaceInfo"));
  exports.Set("interfaces", Napi::Function::New<tapwire::Interfaces>(env, "interfaces"));
  exports.Set("inNetns", Napi::Function::New<tapwire::InNetns>(env, "inNetns"));
  exports.Set("PacketRing", tapwire::PacketRing::Init(env));
  exports.Set("LinkWatch", tapwire::LinkWatch::Init(env));
  exports.Set("EbpfCapture", tapwire::EbpfCapture::Init(env));
  exports.Set("TlsCapture", tapwire::TlsCapture::Init(env));
  return exports;
}

NODE_API_MODULE(tapwire, Init)
