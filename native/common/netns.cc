#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <sched.h>

#include "errors.h"
#include "fd.h"

namespace tapwire {

// inNetns(fd, fn) runs fn on this thread inside the network namespace that fd refers
// to, then puts the thread back in its own, whether fn returned or threw. Sockets,
// netlink sockets and BPF links made inside stay bound to that namespace for their
// whole life, so a capture is opened there and then runs from anywhere. Only this
// thread moves (network namespaces are per thread), and only for the synchronous
// call: no other JavaScript runs on it meanwhile.
Napi::Value InNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int target = info[0].As<Napi::Number>().Int32Value();
  Napi::Function fn = info[1].As<Napi::Function>();
  Fd own(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own) throw SystemError(env, "open(/proc/thread-self/ns/net)", errno);
  if (setns(target, CLONE_NEWNET) != 0) throw SystemError(env, "setns", errno);
  Napi::Value result;
  bool threw = false;
  Napi::Error error;
  try {
    result = fn.Call({});
  } catch (const Napi::Error& e) {
    threw = true;
    error = e;
  }
  // Returning into a namespace this thread came from needs no privilege it lacks.
  if (setns(own.get(), CLONE_NEWNET) != 0) throw SystemError(env, "setns (back to the caller's namespace)", errno);
  if (threw) throw error;
  return result;
}

}  // namespace tapwire
