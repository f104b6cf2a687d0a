// pcap-filter(7) expressions, by libpcap: compiled to classic BPF (compile.cc) and run
// over a packet in user space (match.cc).
#pragma once
#include <napi.h>

namespace tapwire {

// compileFilter(expression, linkType, snaplen) → Promise of a Buffer of struct
// sock_filter, compiled on the thread pool; rejects with nativeCode 'EFILTER' and
// libpcap's message.
Napi::Value CompileFilter(const Napi::CallbackInfo& info);

// matchFilter(program, packet, wireLength[, vlanTci]) → bytes the program keeps (0:
// rejected); vlanTci: the 802.1Q tag the kernel would hold in the frame's metadata.
Napi::Value MatchFilter(const Napi::CallbackInfo& info);

}  // namespace tapwire
