// The network interfaces of the calling thread's network namespace, asked of the
// kernel through sockets and ioctls.
#pragma once
#include <napi.h>

namespace tapwire {

// interfaceInfo(name) → { index, hardwareType, up } or null.
Napi::Value InterfaceInfo(const Napi::CallbackInfo& info);

// interfaces() → [{ name, index, hardwareType, up }].
Napi::Value Interfaces(const Napi::CallbackInfo& info);

}  // namespace tapwire
