// One batch = one ArrayBuffer handed to JavaScript per kernel block:
//   [kMetaWords × u32 per packet][kOwnerBytes per packet, if attributed][packet bytes, packed]
// Packets are copied out of the kernel ring so the block goes back to the kernel at
// once and what the user holds stays valid for as long as the user holds it.
#pragma once
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#include <memory>

#include "buffer_pool.h"

namespace tapwire {

// Word indices of a packet's record; lib/batch.ts reads them (BATCH_RECORD in
// lib/layout.ts, which native/layout_checks.cc holds this to).
enum MetaWord : uint32_t {
  kOffset = 0,   // byte offset of the packet's data in the buffer
  kCaplen = 1,   // bytes captured
  kWirelen = 2,  // bytes on the wire
  kIfindex = 3,
  kTsSec = 4,
  kTsNsec = 5,
  kLink = 6,      // ARPHRD hardware type (low 16 bits) | direction << kDirectionShift (0 in, 1 out)
  kLinkType = 7,  // pcap LINKTYPE_* + 1 where the source knows it (a file: lib/batch-builder.ts); 0 here
  kMetaWords = 8,
};
constexpr uint32_t kDirectionShift = 16;

// A packet's owners, as the kernel recorded them (struct tapwire_owners);
// lib/attribution/owners.ts reads them.
constexpr size_t kOwnerBytes = 64;

class BatchBuilder {
 public:
  // Reserves room for up to maxPackets records (with their owners when `owned`) and
  // dataBytes of packet bytes.
  BatchBuilder(const std::shared_ptr<BufferPool>& pool, uint32_t maxPackets, size_t dataBytes, bool owned = false);
  BatchBuilder(const BatchBuilder&) = delete;
  BatchBuilder& operator=(const BatchBuilder&) = delete;

  bool ok() const { return buf_.ok(); }
  // Appends a record and returns where its caplen bytes go; null if it does not fit
  // what was reserved (the caller counts the packet as dropped). Inline: it runs once
  // per packet, and a call per packet showed in profiles.
  uint8_t* Add(uint32_t caplen, uint32_t wirelen, uint32_t ifindex, uint32_t sec, uint32_t nsec, uint16_t hatype, bool outgoing) {
    if (count_ == max_ || dataEnd_ + caplen > buf_.capacity()) return nullptr;
    uint32_t* m = reinterpret_cast<uint32_t*>(buf_.data()) + size_t(count_) * kMetaWords;
    m[kOffset] = uint32_t(dataEnd_);
    m[kCaplen] = caplen;
    m[kWirelen] = wirelen;
    m[kIfindex] = ifindex;
    m[kTsSec] = sec;
    m[kTsNsec] = nsec;
    m[kLink] = uint32_t(hatype) | uint32_t(outgoing) << kDirectionShift;
    m[kLinkType] = 0;
    uint8_t* out = buf_.data() + dataEnd_;
    dataEnd_ += caplen;
    count_++;
    wireBytes_ += wirelen;
    return out;
  }
  // Where the owner of the packet Add() last appended goes (only when `owned`).
  uint8_t* LastOwner() { return buf_.data() + ownersAt_ + size_t(count_ - 1) * kOwnerBytes; }
  // Byte offset of the owners in the batch; 0 when it has none.
  size_t ownersAt() const { return ownersAt_; }
  uint32_t count() const { return count_; }
  double wireBytes() const { return wireBytes_; }
  // Bytes in use: the records, then the packets.
  size_t size() const { return dataEnd_; }
  PooledBuffer& buffer() { return buf_; }

 private:
  PooledBuffer buf_;
  uint32_t max_;
  uint32_t count_ = 0;
  double wireBytes_ = 0;
  size_t ownersAt_;
  size_t dataEnd_;
};

}  // namespace tapwire
