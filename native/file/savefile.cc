// See savefile.h. Only pcap_fopen_offline() and pcap_next_ex() are used: libpcap's public
// reader, over a file held in memory (fmemopen).
#include "savefile.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>

#include "../common/errors.h"

namespace tapwire {

namespace {

void Append32(std::vector<uint8_t>& out, uint32_t v, bool swapped) {
  if (swapped) v = __builtin_bswap32(v);
  const auto* bytes = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), bytes, bytes + 4);
}

void Append16(std::vector<uint8_t>& out, uint16_t v, bool swapped) {
  if (swapped) v = __builtin_bswap16(v);
  const auto* bytes = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), bytes, bytes + 2);
}

}  // namespace

std::vector<uint8_t> SavefileHeader(uint32_t linkType, uint32_t snaplen, bool swapped) {
  std::vector<uint8_t> out;
  out.reserve(sizeof(struct pcap_file_header));
  Append32(out, 0xa1b2c3d4, swapped);  // microseconds
  Append16(out, PCAP_VERSION_MAJOR, swapped);
  Append16(out, PCAP_VERSION_MINOR, swapped);
  Append32(out, 0, swapped);  // thiszone
  Append32(out, 0, swapped);  // sigfigs
  Append32(out, snaplen, swapped);
  Append32(out, linkType, swapped);
  return out;
}

pcap_t* OpenSavefile(std::vector<uint8_t>& bytes, std::string& error) {
  FILE* f = fmemopen(bytes.data(), bytes.size(), "rb");
  if (!f) {
    error = std::string("fmemopen: ") + strerror(errno);
    return nullptr;
  }
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t* p = pcap_fopen_offline(f, errbuf);  // pcap_close() then closes f; a failure leaves it to us
  if (!p) {
    error = errbuf;
    fclose(f);
  }
  return p;
}

Napi::Value LibpcapRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t linkType = info[0].As<Napi::Number>().Uint32Value();
  bool swapped = info[1].As<Napi::Boolean>().Value();
  Napi::Buffer<uint8_t> data = info[2].As<Napi::Buffer<uint8_t>>();
  uint32_t wireLength = info[3].As<Napi::Number>().Uint32Value();
  // No snapshot length (0): libpcap takes the link type's maximum, which the record is within.
  std::vector<uint8_t> file = SavefileHeader(linkType, 0, swapped);
  Append32(file, 0, swapped);  // seconds
  Append32(file, 0, swapped);  // microseconds
  Append32(file, uint32_t(data.Length()), swapped);
  Append32(file, wireLength, swapped);
  file.insert(file.end(), data.Data(), data.Data() + data.Length());
  std::string error;
  pcap_t* p = OpenSavefile(file, error);
  if (!p) throw PlainError(env, "libpcap refused a record's file: " + error, "EFILE");
  struct pcap_pkthdr* header;
  const u_char* bytes;
  int got = pcap_next_ex(p, &header, &bytes);
  if (got != 1) {
    error = got == PCAP_ERROR ? pcap_geterr(p) : "no record";
    pcap_close(p);
    throw PlainError(env, "libpcap could not read a record: " + error, "EFILE");
  }
  memcpy(data.Data(), bytes, std::min<size_t>(header->caplen, data.Length()));
  uint32_t length = header->len;
  pcap_close(p);
  return Napi::Number::New(env, length);
}

}  // namespace tapwire
