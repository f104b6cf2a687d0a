#include "batch.h"

#include <stdlib.h>

namespace tapwire {

BatchBuilder::BatchBuilder(uint32_t maxPackets, size_t dataBytes)
    : size_(size_t(maxPackets) * kMetaWords * 4 + dataBytes), max_(maxPackets) {
  buf_ = static_cast<uint8_t*>(malloc(size_ ? size_ : 1));
  dataEnd_ = size_t(maxPackets) * kMetaWords * 4;
}

BatchBuilder::~BatchBuilder() { free(buf_); }

uint8_t* BatchBuilder::Add(uint32_t caplen, uint32_t wirelen, uint32_t ifindex,
                           uint32_t sec, uint32_t nsec, uint16_t hatype, bool outgoing) {
  uint32_t* m = reinterpret_cast<uint32_t*>(buf_) + size_t(count_) * kMetaWords;
  m[kOffset] = uint32_t(dataEnd_);
  m[kCaplen] = caplen;
  m[kWirelen] = wirelen;
  m[kIfindex] = ifindex;
  m[kTsSec] = sec;
  m[kTsNsec] = nsec;
  m[kLink] = uint32_t(hatype) | (outgoing ? 1u << 16 : 0);
  m[kReserved] = 0;
  uint8_t* out = buf_ + dataEnd_;
  dataEnd_ += caplen;
  count_++;
  wireBytes_ += wirelen;
  return out;
}

Napi::ArrayBuffer BatchBuilder::Finish(Napi::Env env) {
  uint8_t* buf = buf_;
  buf_ = nullptr;
  return Napi::ArrayBuffer::New(env, buf, dataEnd_,
                                [](Napi::Env, void* data) { free(data); });
}

}  // namespace tapwire
