#include "packet_ring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/batch.h"
#include "../common/errors.h"
#include "../common/options.h"
#include "../common/packet_socket.h"
#include "../common/vlan.h"

namespace tapwire {

namespace {

constexpr uint32_t kFrameSize = 2048;  // only a unit of ring accounting in TPACKET_V3

int AttachClassicFilter(int fd, const Napi::Buffer<uint8_t>& code) {
  size_t count = code.Length() / sizeof(struct sock_filter);
  // sock_fprog counts in 16 bits: a longer program would be cut, not refused.
  if (count > USHRT_MAX) {
    errno = EINVAL;
    return -1;
  }
  struct sock_fprog prog;
  prog.len = static_cast<unsigned short>(count);
  prog.filter = reinterpret_cast<struct sock_filter*>(code.Data());
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

// Where a packet's frame can start at the earliest: after its header and address.
constexpr uint64_t kFrameMin = TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) + sizeof(struct sockaddr_ll);

// The packets of the block at `base`, each checked against the block before anything is
// read through it: fn(offset, header, address) for each until it returns false. Returns
// how many were walked; the caller counts the rest as lost.
template <typename Fn>
uint32_t Walk(uint8_t* base, uint32_t blockSize, const struct tpacket_hdr_v1& bh, Fn&& fn) {
  auto inBlock = [blockSize](uint64_t offset, uint64_t length) { return offset <= blockSize && length <= blockSize - offset; };
  uint64_t at = bh.offset_to_first_pkt;
  uint32_t i = 0;
  for (; i < bh.num_pkts; i++) {
    if (!inBlock(at, kFrameMin)) break;
    const auto* hdr = reinterpret_cast<const struct tpacket3_hdr*>(base + at);
    const auto* sll = reinterpret_cast<const struct sockaddr_ll*>(base + at + TPACKET_ALIGN(sizeof(*hdr)));
    if (!inBlock(at + hdr->tp_mac, hdr->tp_snaplen) || !fn(at, *hdr, *sll)) break;
    at += hdr->tp_next_offset;
  }
  return i;
}

// The tag the kernel moved out of this frame into its metadata, if any (common/vlan.h).
VlanTag StrippedTag(const struct tpacket3_hdr& hdr, const struct sockaddr_ll& sll) {
  if (!(hdr.tp_status & TP_STATUS_VLAN_VALID)) return {};
  VlanTag tag{(hdr.tp_status & TP_STATUS_VLAN_TPID_VALID) ? hdr.hv1.tp_vlan_tpid : uint16_t(ETH_P_8021Q), uint16_t(hdr.hv1.tp_vlan_tci)};
  return tag.AppliesTo(sll.sll_hatype == ARPHRD_ETHER, hdr.tp_snaplen) ? tag : VlanTag{};
}

// A lent ArrayBuffer's memory: the mapping, kept until the ArrayBuffer is collected
// (close() blanks the ring sooner, once the ArrayBuffer is detached).
napi_status Lend(napi_env env, const std::shared_ptr<Mapping>& memory, napi_value* result) {
  auto* held = new std::shared_ptr<Mapping>(memory);
  napi_status status = napi_create_external_arraybuffer(
      env, memory->data(), memory->size(), [](napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<Mapping>*>(hint); }, held,
      result);
  if (status != napi_ok) delete held;
  return status;
}

}  // namespace

Napi::Function PacketRing::Init(Napi::Env env) {
  return Define(env, "PacketRing",
                {InstanceMethod("views", &PacketRing::Views), InstanceMethod("release", &PacketRing::ReleaseBlock),
                 InstanceMethod("unretired", &PacketRing::Unretired)});
}

// new PacketRing({ ifindex, filter, blockSize, blockCount, blockTimeoutMs, promiscuous, zeroCopy },
//                onBatch(arrayBuffer | block, count, wireBytes))
PacketRing::PacketRing(const Napi::CallbackInfo& info) : KernelSource(info, "tapwire:PacketRing") {
  Open(info.Env(), info[0].As<Napi::Object>());
}

PacketRing::~PacketRing() { Release(); }

// The order is what makes "no unfiltered packet ever reaches the user" hold: the socket
// receives nothing until it is bound, and by then the filter and the ring are in place.
void PacketRing::Open(Napi::Env env, const Napi::Object& options) {
  uint32_t ifindex = UintOption(options, "ifindex");
  blockSize_ = UintOption(options, "blockSize");
  blockCount_ = UintOption(options, "blockCount");
  snaplen_ = UintOption(options, "snaplen");

  fd_ = OpenPacketSocket(env, SOCK_NONBLOCK);

  int version = TPACKET_V3;
  if (setsockopt(fd_.get(), SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0)
    throw SystemError(env, "setsockopt(PACKET_VERSION)", errno);

  if (AttachClassicFilter(fd_.get(), options.Get("filter").As<Napi::Buffer<uint8_t>>()) != 0)
    throw SystemError(env, "setsockopt(SO_ATTACH_FILTER)", errno, "EFILTER");

  // A lent frame's stripped VLAN tag goes back in place: room for it before every frame.
  bool zeroCopy = options.Get("zeroCopy").ToBoolean();
  unsigned int reserve = zeroCopy ? kVlanTagLength : 0;
  if (reserve && setsockopt(fd_.get(), SOL_PACKET, PACKET_RESERVE, &reserve, sizeof(reserve)) != 0)
    throw SystemError(env, "setsockopt(PACKET_RESERVE)", errno);

  struct tpacket_req3 req;
  memset(&req, 0, sizeof(req));
  req.tp_block_size = blockSize_;
  req.tp_block_nr = blockCount_;
  req.tp_frame_size = kFrameSize;
  req.tp_frame_nr = (blockSize_ / kFrameSize) * blockCount_;
  req.tp_retire_blk_tov = UintOption(options, "blockTimeoutMs");
  if (setsockopt(fd_.get(), SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0)
    throw SystemError(env, "setsockopt(PACKET_RX_RING)", errno);

  // Not make_shared (GLIBCXX_3.4.26, newer than Node 20's floor: native/common/instance.h).
  ring_.reset(new Mapping(Mapping::Map(fd_.get(), size_t(blockSize_) * blockCount_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, 0)));
  if (!*ring_) throw SystemError(env, "mmap", errno);

  BindPacketSocket(env, fd_.get(), ifindex);
  if (options.Get("promiscuous").ToBoolean()) AddPromiscuous(env, fd_.get(), ifindex);
  if (zeroCopy) Lend(env);

  delivery_.Watch(fd_.get());
}

// The ring and a record area beside it become ArrayBuffers once, for the capture's life.
// A block holds at most blockSize / kFrameMin packets.
void PacketRing::Lend(Napi::Env env) {
  recordsPerBlock_ = uint32_t(blockSize_ / kFrameMin);
  records_.reset(new Mapping(Mapping::Anonymous(size_t(recordsPerBlock_) * kMetaWords * sizeof(uint32_t) * blockCount_)));
  if (!*records_) throw SystemError(env, "mmap", errno);
  napi_value ring, records;
  if (tapwire::Lend(env, ring_, &ring) != napi_ok || tapwire::Lend(env, records_, &records) != napi_ok) throw Napi::Error::New(env);
  ringView_ = Napi::Persistent(Napi::ArrayBuffer(env, ring));
  recordsView_ = Napi::Persistent(Napi::ArrayBuffer(env, records));
  lent_.assign(blockCount_, false);
}

Napi::Value PacketRing::Views(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ringView_.IsEmpty()) throw Napi::Error::New(env, "the ring is not lent (zeroCopy) or is closed");
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, ringView_.Value());
  out.Set(1u, recordsView_.Value());
  out.Set(2u, Napi::Number::New(env, recordsPerBlock_));
  return out;
}

Napi::Value PacketRing::ReleaseBlock(const Napi::CallbackInfo& info) {
  uint32_t block = info[0].As<Napi::Number>().Uint32Value();
  if (fd_ && block < lent_.size() && lent_[block]) {
    lent_[block] = false;
    auto* desc = reinterpret_cast<struct tpacket_block_desc*>(ring_->data() + size_t(block) * blockSize_);
    __atomic_store_n(&desc->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    delivery_.Fed();
  }
  return info.Env().Undefined();
}

// Blocks retired and not yet drained come first; the first the kernel still owns is the
// one it fills (a block it owns holds no packets until then). After detach() nothing
// more enters it, so its count only waits for the timer.
Napi::Value PacketRing::Unretired(const Napi::CallbackInfo& info) {
  uint32_t packets = 0;
  for (uint32_t i = 0; fd_ && i < blockCount_; i++) {
    uint32_t block = (nextBlock_ + i) % blockCount_;
    if (!lent_.empty() && lent_[block]) break;  // the kernel stops before a lent block
    auto& bh = reinterpret_cast<struct tpacket_block_desc*>(ring_->data() + size_t(block) * blockSize_)->hdr.bh1;
    if ((__atomic_load_n(&bh.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) {
      packets = __atomic_load_n(&bh.num_pkts, __ATOMIC_RELAXED);
      break;
    }
  }
  return Napi::Number::New(info.Env(), packets);
}

void PacketRing::Drain() {
  while (fd_ && delivery_.wanted()) {
    // Blocks are filled in order: one still lent stops the kernel, and us, there.
    if (!lent_.empty() && lent_[nextBlock_]) {
      delivery_.Starve();
      break;
    }
    uint32_t block = nextBlock_;
    uint8_t* base = ring_->data() + size_t(block) * blockSize_;
    auto* desc = reinterpret_cast<struct tpacket_block_desc*>(base);
    if ((__atomic_load_n(&desc->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) {
      // The kernel calls the socket readable while the block before the one it fills is
      // not its own: with that block lent, the poll would fire without end. Its release
      // starts the watch again.
      if (!lent_.empty() && lent_[(block + blockCount_ - 1) % blockCount_]) delivery_.Starve();
      break;
    }
    nextBlock_ = (nextBlock_ + 1) % blockCount_;
    if (lent_.empty()) {
      Copy(base);
    } else {
      View(block, base);
    }
  }
}

void PacketRing::Copy(uint8_t* base) {
  struct tpacket_hdr_v1& bh = reinterpret_cast<struct tpacket_block_desc*>(base)->hdr.bh1;
  uint32_t count = bh.num_pkts;
  uint32_t used = bh.blk_len < blockSize_ ? bh.blk_len : blockSize_;
  uint32_t room = count < blockSize_ / sizeof(struct tpacket3_hdr) ? count : blockSize_ / sizeof(struct tpacket3_hdr);
  BatchBuilder batch(delivery_.buffers(), room, used + size_t(room) * kVlanTagLength);
  if (!batch.ok()) {
    userDrops_ += count;  // no memory for the batch
    __atomic_store_n(&bh.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    return;
  }
  uint32_t walked = Walk(base, blockSize_, bh, [&](uint64_t at, const struct tpacket3_hdr& hdr, const struct sockaddr_ll& sll) {
    const uint8_t* frame = base + at + hdr.tp_mac;
    VlanTag tag = StrippedTag(hdr, sll);
    uint32_t caplen = tag.tpid ? VlanTag::TaggedCaplen(hdr.tp_snaplen, snaplen_) : hdr.tp_snaplen;
    uint32_t wirelen = tag.tpid ? hdr.tp_len + kVlanTagLength : hdr.tp_len;
    uint8_t* out =
        batch.Add(caplen, wirelen, uint32_t(sll.sll_ifindex), hdr.tp_sec, hdr.tp_nsec, sll.sll_hatype, sll.sll_pkttype == PACKET_OUTGOING);
    if (!out) {
      userDrops_++;
    } else if (tag.tpid) {
      tag.CopyTagged(out, frame, caplen);
    } else {
      memcpy(out, frame, caplen);
    }
    return true;
  });
  userDrops_ += count - walked;
  __atomic_store_n(&bh.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
  delivery_.Hand(batch);
}

// Each packet's record (native/common/batch.h) points into the ring itself. A stripped
// VLAN tag goes back in place: the addresses move back into the room the kernel leaves
// between the packet's address and its frame, and the tag follows them.
void PacketRing::View(uint32_t block, uint8_t* base) {
  struct tpacket_hdr_v1& bh = reinterpret_cast<struct tpacket_block_desc*>(base)->hdr.bh1;
  uint32_t* records = reinterpret_cast<uint32_t*>(records_->data()) + size_t(block) * recordsPerBlock_ * kMetaWords;
  uint64_t blockAt = uint64_t(block) * blockSize_;
  uint32_t n = 0;
  double wireBytes = 0;
  uint32_t walked = Walk(base, blockSize_, bh, [&](uint64_t at, const struct tpacket3_hdr& hdr, const struct sockaddr_ll& sll) {
    if (n == recordsPerBlock_) return false;
    VlanTag tag = StrippedTag(hdr, sll);
    if (tag.tpid && hdr.tp_mac < kFrameMin + kVlanTagLength) {
      userDrops_++;  // no room before the frame (PACKET_RESERVE makes it: never seen)
      return true;
    }
    uint32_t extra = tag.tpid ? kVlanTagLength : 0;
    uint32_t* m = records + size_t(n++) * kMetaWords;
    m[kOffset] = uint32_t(blockAt + at + hdr.tp_mac - extra);
    m[kCaplen] = tag.tpid ? VlanTag::TaggedCaplen(hdr.tp_snaplen, snaplen_) : hdr.tp_snaplen;
    m[kWirelen] = hdr.tp_len + extra;
    m[kIfindex] = uint32_t(sll.sll_ifindex);
    m[kTsSec] = hdr.tp_sec;
    m[kTsNsec] = hdr.tp_nsec;
    m[kLink] = uint32_t(sll.sll_hatype) | uint32_t(sll.sll_pkttype == PACKET_OUTGOING) << kDirectionShift;
    m[kLinkType] = 0;
    wireBytes += m[kWirelen];
    if (tag.tpid) {
      uint8_t* frame = base + at + hdr.tp_mac;
      memmove(frame - kVlanTagLength, frame, kMacAddressesLength);
      tag.Write(frame - kVlanTagLength + kMacAddressesLength);
    }
    return true;
  });
  userDrops_ += bh.num_pkts - walked;
  if (n == 0) {
    __atomic_store_n(&bh.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    return;
  }
  lent_[block] = true;
  delivery_.Lend(block, n, wireBytes);
}

// From here on the socket accepts nothing; the block being filled is retired by the
// kernel's block timer, so a later flush() hands over everything captured until now.
void PacketRing::Detach(Napi::Env env) {
  struct sock_filter rejectAll = BPF_STMT(BPF_RET | BPF_K, 0);
  struct sock_fprog prog = {1, &rejectAll};
  if (setsockopt(fd_.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0)
    throw SystemError(env, "setsockopt(SO_ATTACH_FILTER)", errno);
}

// PACKET_STATISTICS resets the kernel's counters on every read: keep the running sum.
void PacketRing::ReadCounters() {
  struct tpacket_stats_v3 st;
  socklen_t len = sizeof(st);
  if (getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) kernelDrops_ += st.tp_drops;
}

void PacketRing::PutStats(Napi::Env env, Napi::Object& out) {
  out.Set("kernelDrops", Napi::Number::New(env, double(kernelDrops_)));
  out.Set("userspaceDrops", Napi::Number::New(env, double(userDrops_)));
}

// Lent views read nothing from here on (a batch kept past close() sees an empty buffer).
// A mapping of the ring holds the socket open, and with it its promiscuous membership:
// it is blanked now. Native code still reading a view it took before (a write in
// flight) reads zeros until the ArrayBuffers are collected and the pages unmapped.
void PacketRing::Closing(Napi::Env) {
  if (ringView_.IsEmpty()) return;
  ringView_.Value().Detach();
  recordsView_.Value().Detach();
  ring_->Blank();
}

void PacketRing::Release() {
  delivery_.Close();
  // Collected without close(): views may still be referenced; they read zeros from here.
  if (!ringView_.IsEmpty() && ring_) ring_->Blank();
  ringView_.Reset();
  recordsView_.Reset();
  lent_.clear();
  ring_.reset();
  records_.reset();
  fd_.reset();
}

}  // namespace tapwire
