#include "link_watch.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include <memory>

#include "errors.h"
#include "netns.h"

namespace tapwire {

namespace {

constexpr size_t kReceiveBytes = 64 * 1024;

}  // namespace

Napi::Function LinkWatch::Init(Napi::Env env) {
  return DefineClass(env, "LinkWatch",
                     {
                         InstanceMethod<&LinkWatch::Rescan>("rescan"),
                         InstanceMethod<&LinkWatch::Close>("close"),
                     });
}

LinkWatch::LinkWatch(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<LinkWatch>(info),
      delivery_(info.Env(), info[1].As<Napi::Function>(), "tapwire:LinkWatch", *this),
      buffer_(kReceiveBytes) {
  Napi::Env env = info.Env();
  Napi::Array list = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); i++) watched_.insert(list.Get(i).As<Napi::Number>().Uint32Value());
  follow_ = info[2].ToBoolean();
  netns_ = CurrentNetns();
  socket_ = Fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
  if (!socket_) throw SystemError(env, "socket(AF_NETLINK)", errno);
  struct sockaddr_nl addr;
  memset(&addr, 0, sizeof(addr));
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_LINK;
  if (bind(socket_.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) throw SystemError(env, "bind(AF_NETLINK)", errno);
  delivery_.Watch(socket_.get());
  delivery_.Resume();
}

LinkWatch::~LinkWatch() { Release(); }

void LinkWatch::Note(std::vector<uint32_t>& changes, Kind kind, uint32_t index) {
  changes.push_back(kind);
  changes.push_back(index);
}

void LinkWatch::TakeChanges(std::vector<uint32_t>& changes) {
  NetnsScope there(netns_.get());
  if (!there.ok()) return;  // the next event or rescan tries again
  char name[IF_NAMESIZE];
  for (auto it = watched_.begin(); it != watched_.end();) {
    if (if_indextoname(*it, name) == nullptr && errno == ENXIO) {
      Note(changes, kGone, *it);
      it = watched_.erase(it);
    } else {
      ++it;
    }
  }
  if (!follow_) return;
  std::unique_ptr<struct if_nameindex, decltype(&if_freenameindex)> list(if_nameindex(), if_freenameindex);
  if (!list) return;  // out of memory: the next event or rescan tries again
  for (struct if_nameindex* i = list.get(); i->if_index != 0; i++) {
    if (watched_.insert(i->if_index).second) Note(changes, kAdded, i->if_index);
  }
}

Napi::Value LinkWatch::Rescan(const Napi::CallbackInfo& info) {
  std::vector<uint32_t> changes;
  TakeChanges(changes);
  Napi::Array out = Napi::Array::New(info.Env(), changes.size());
  for (size_t i = 0; i < changes.size(); i++) out.Set(uint32_t(i), changes[i]);
  return out;
}

void LinkWatch::Drain() {
  std::vector<uint32_t> changes;
  while (socket_) {
    ssize_t n = recv(socket_.get(), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (n < 0) {
      // The socket overflowed and events were lost: look at each interface instead.
      if (errno == ENOBUFS) {
        TakeChanges(changes);
        continue;
      }
      break;  // EAGAIN: all read
    }
    int left = int(n);
    for (auto* h = reinterpret_cast<struct nlmsghdr*>(buffer_.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) continue;
      uint32_t index = uint32_t(static_cast<struct ifinfomsg*>(NLMSG_DATA(h))->ifi_index);
      // RTM_NEWLINK also says that a known link changed (up, down, renamed): only an
      // index not seen before is a new interface.
      if (h->nlmsg_type == RTM_DELLINK && watched_.erase(index)) Note(changes, kGone, index);
      if (h->nlmsg_type == RTM_NEWLINK && follow_ && watched_.insert(index).second) Note(changes, kAdded, index);
    }
  }
  if (changes.empty()) return;
  size_t bytes = changes.size() * sizeof(uint32_t);
  PooledBuffer out(delivery_.buffers(), bytes);
  if (!out.ok()) return;
  memcpy(out.data(), changes.data(), bytes);
  delivery_.Hand(out, bytes, uint32_t(changes.size() / 2), double(bytes));
}

Napi::Value LinkWatch::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

void LinkWatch::Release() {
  delivery_.Close();
  socket_.reset();
  netns_.reset();
}

}  // namespace tapwire
