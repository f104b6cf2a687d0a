#include <errno.h>
#include <napi.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"

namespace tapwire {

// interfaceInfo(name) → { index, hardwareType } or null when there is no such interface.
// The hardware type (ARPHRD_*) decides which link type a filter is compiled for.
Napi::Value InterfaceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  if (name.size() >= IFNAMSIZ) return env.Null();
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) {
    if (errno == ENODEV || errno == ENXIO) return env.Null();
    throw SystemError(env, "if_nametoindex", errno);
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw SystemError(env, "socket", errno);
  struct ifreq req;
  memset(&req, 0, sizeof(req));
  strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  int rc = ioctl(fd, SIOCGIFHWADDR, &req);
  int err = errno;
  close(fd);
  if (rc != 0) {
    if (err == ENODEV) return env.Null();
    throw SystemError(env, "ioctl(SIOCGIFHWADDR)", err);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("index", index);
  out.Set("hardwareType", req.ifr_hwaddr.sa_family);
  return out;
}

}  // namespace tapwire
