#include "batch.h"

namespace tapwire {

namespace {

// What each packet takes before the packet bytes: its record, and its owners if any.
size_t HeadBytes(bool owned) { return kMetaWords * 4 + (owned ? kOwnerBytes : 0); }

}  // namespace

BatchBuilder::BatchBuilder(const std::shared_ptr<BufferPool>& pool, uint32_t maxPackets, size_t dataBytes, bool owned)
    : buf_(pool, size_t(maxPackets) * HeadBytes(owned) + dataBytes + 1),
      max_(maxPackets),
      ownersAt_(owned ? size_t(maxPackets) * kMetaWords * 4 : 0),
      dataEnd_(size_t(maxPackets) * HeadBytes(owned)) {}

}  // namespace tapwire
