// Capture files made in memory for libpcap to read, so that what libpcap decides about a
// file (how a filter compiles for it, how a record's pseudo-header reads) is libpcap's
// own decision rather than a copy of it.
#pragma once
#include <napi.h>
#include <stdint.h>

#include <string>
#include <vector>

// libpcap's handle, declared rather than included: addon.cc, which includes this header,
// also sees linux/bpf.h, whose struct bpf_insn pcap/bpf.h defines again.
struct pcap;

namespace tapwire {

// A classic pcap file header for `linkType` (a LINKTYPE_), in this host's byte order or,
// with `swapped`, the other one.
std::vector<uint8_t> SavefileHeader(uint32_t linkType, uint32_t snaplen, bool swapped);

// libpcap's reader over `bytes`, which must outlive it (until pcap_close); null and
// libpcap's message in `error` when it refuses them.
struct pcap* OpenSavefile(std::vector<uint8_t>& bytes, std::string& error);

// libpcapRecord(linkType, swapped, data, wireLength) → the original length, after libpcap
// has read the record as a file of that link type and byte order would hand it over;
// `data` is rewritten in place with the bytes libpcap gives.
Napi::Value LibpcapRecord(const Napi::CallbackInfo& info);

}  // namespace tapwire
