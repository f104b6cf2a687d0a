// Network namespaces, per thread: what the capture's kernel objects are made in.
#pragma once
#include <napi.h>

#include "fd.h"

namespace tapwire {

// The calling thread's network namespace, held open (invalid if /proc cannot say).
Fd CurrentNetns();

// inNetns(fd, fn): runs fn with this thread inside the network namespace fd refers to,
// and back in its own after.
Napi::Value InNetns(const Napi::CallbackInfo& info);

// Moves the calling thread into `target` (a namespace fd; -1: stay) for its lifetime,
// and back after. Queries by name or index (if_nametoindex, if_nameindex) answer for
// the thread's namespace, so code that runs later than the object it serves (an event
// loop callback) steps back into that object's namespace this way.
class NetnsScope {
 public:
  explicit NetnsScope(int target);
  ~NetnsScope();
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;
  bool ok() const { return ok_; }

 private:
  Fd home_;
  bool moved_ = false;
  bool ok_ = true;
};

}  // namespace tapwire
