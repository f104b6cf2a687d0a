// The steps of opening an AF_PACKET socket that the raw-socket ring and the eBPF
// socket attach share. Each throws a SystemError naming the call that failed.
#pragma once
#include <napi.h>
#include <stdint.h>

#include "fd.h"

namespace tapwire {

// A packet socket with protocol 0: it receives nothing until BindPacketSocket(), so a
// filter (and a ring) can be set first and no unfiltered packet is ever queued.
Fd OpenPacketSocket(Napi::Env env, int flags = 0);
// Starts receiving every protocol on `ifindex`.
void BindPacketSocket(Napi::Env env, int fd, uint32_t ifindex);
// Puts `ifindex` in promiscuous mode for as long as `fd` is open (the kernel counts the
// membership and drops it when the socket closes, also if this process dies).
void AddPromiscuous(Napi::Env env, int fd, uint32_t ifindex);

}  // namespace tapwire
