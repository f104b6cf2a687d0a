#include "link_watch.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "errors.h"

namespace tapwire {

namespace {

constexpr size_t kReceiveBytes = 64 * 1024;

}  // namespace

Napi::Function LinkWatch::Init(Napi::Env env) {
  return DefineClass(env, "LinkWatch",
                     {
                         InstanceMethod<&LinkWatch::Missing>("missing"),
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
  socket_ = Fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
  if (!socket_) throw SystemError(env, "socket(AF_NETLINK)", errno);
  struct sockaddr_nl addr;
  memset(&addr, 0, sizeof(addr));
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_LINK;
  if (bind(socket_.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0)
    throw SystemError(env, "bind(AF_NETLINK)", errno);
  delivery_.Watch(socket_.get());
  delivery_.Resume();
}

LinkWatch::~LinkWatch() { Release(); }

void LinkWatch::TakeMissing(std::vector<uint32_t>& gone) {
  char name[IF_NAMESIZE];
  for (auto it = watched_.begin(); it != watched_.end();) {
    if (if_indextoname(*it, name) == nullptr && errno == ENXIO) {
      gone.push_back(*it);
      it = watched_.erase(it);
    } else {
      ++it;
    }
  }
}

Napi::Value LinkWatch::Missing(const Napi::CallbackInfo& info) {
  std::vector<uint32_t> gone;
  TakeMissing(gone);
  Napi::Array out = Napi::Array::New(info.Env(), gone.size());
  for (size_t i = 0; i < gone.size(); i++) out.Set(uint32_t(i), gone[i]);
  return out;
}

void LinkWatch::Drain() {
  std::vector<uint32_t> gone;
  while (socket_) {
    ssize_t n = recv(socket_.get(), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (n < 0) {
      // The socket overflowed and events were lost: look at each interface instead.
      if (errno == ENOBUFS) {
        TakeMissing(gone);
        continue;
      }
      break;  // EAGAIN: all read
    }
    int left = int(n);
    for (auto* h = reinterpret_cast<struct nlmsghdr*>(buffer_.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type != RTM_DELLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) continue;
      uint32_t index = uint32_t(static_cast<struct ifinfomsg*>(NLMSG_DATA(h))->ifi_index);
      if (watched_.erase(index)) gone.push_back(index);
    }
  }
  if (gone.empty()) return;
  size_t bytes = gone.size() * sizeof(uint32_t);
  PooledBuffer out(delivery_.buffers(), bytes);
  if (!out.ok()) return;
  memcpy(out.data(), gone.data(), bytes);
  delivery_.Hand(out, bytes, uint32_t(gone.size()), double(bytes));
}

Napi::Value LinkWatch::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

void LinkWatch::Release() {
  delivery_.Close();
  socket_.reset();
}

}  // namespace tapwire
