#include "interfaces.h"

#include <errno.h>
#include <napi.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "errors.h"
#include "fd.h"

namespace tapwire {

namespace {

// Everything here asks the kernel through sockets and ioctls, never /sys/class/net:
// sysfs shows the namespace it was mounted in, sockets the calling thread's, which is
// what a capture inside another network namespace (inNetns) needs.
bool Describe(Napi::Env env, int fd, const char* name, Napi::Object out) {
  struct ifreq req;
  memset(&req, 0, sizeof(req));
  strncpy(req.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFHWADDR, &req) != 0) {
    if (errno == ENODEV) return false;
    throw SystemError(env, "ioctl(SIOCGIFHWADDR)", errno);
  }
  out.Set("hardwareType", req.ifr_hwaddr.sa_family);
  if (ioctl(fd, SIOCGIFFLAGS, &req) != 0) {
    if (errno == ENODEV) return false;
    throw SystemError(env, "ioctl(SIOCGIFFLAGS)", errno);
  }
  out.Set("up", (req.ifr_flags & IFF_UP) != 0);
  return true;
}

Fd QuerySocket(Napi::Env env) {
  Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) throw SystemError(env, "socket", errno);
  return fd;
}

}  // namespace

// interfaceInfo(name) → { index, hardwareType, up } or null when there is no such
// interface. The hardware type (ARPHRD_*) decides which link type a filter is compiled for.
Napi::Value InterfaceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  if (name.size() >= IFNAMSIZ) return env.Null();
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) {
    if (errno == ENODEV || errno == ENXIO) return env.Null();
    throw SystemError(env, "if_nametoindex", errno);
  }
  Fd fd = QuerySocket(env);
  Napi::Object out = Napi::Object::New(env);
  out.Set("index", index);
  if (!Describe(env, fd.get(), name.c_str(), out)) return env.Null();
  return out;
}

// interfaces() → [{ name, index, hardwareType, up }] of the calling thread's network
// namespace; one that goes away while listed is left out.
Napi::Value Interfaces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::unique_ptr<struct if_nameindex, decltype(&if_freenameindex)> list(if_nameindex(), if_freenameindex);
  if (!list) throw SystemError(env, "if_nameindex", errno);
  Fd fd = QuerySocket(env);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (struct if_nameindex* i = list.get(); i->if_index != 0; i++) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", i->if_name);
    entry.Set("index", i->if_index);
    if (Describe(env, fd.get(), i->if_name, entry)) out.Set(n++, entry);
  }
  return out;
}

}  // namespace tapwire
