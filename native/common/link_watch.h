// Tells JavaScript when a watched network interface goes away (deleted, or moved to
// another network namespace) and, when following, when one appears: an rtnetlink
// socket subscribed to link events, polled on the event loop like a capture, in the
// network namespace it was made in. Which interfaces matter, and what a change means
// for a capture, is decided in TypeScript.
#pragma once
#include <napi.h>

#include <set>
#include <vector>

#include "delivery.h"
#include "fd.h"

namespace tapwire {

class LinkWatch : public Napi::ObjectWrap<LinkWatch>, private Delivery::Source {
 public:
  static Napi::Function Init(Napi::Env env);
  // A change, as handed to JavaScript: pairs of u32 (kind, ifindex).
  enum Kind : uint32_t { kGone = 0, kAdded = 1 };

  // new LinkWatch(ifindexes, onChange(ArrayBuffer of (kind, ifindex) u32 pairs, count), follow)
  // follow: every interface not in `ifindexes` that appears is reported and watched too.
  explicit LinkWatch(const Napi::CallbackInfo& info);
  ~LinkWatch() override;

 private:
  // rescan() → the changes since `ifindexes` as [kind, ifindex, ...]: interfaces that
  // went (or, following, came) before the watch began. Each change is reported once,
  // here or to onChange.
  Napi::Value Rescan(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void Drain() override;
  void Release() override;
  // Looks at every interface instead of at events: what went, and what came if following.
  void TakeChanges(std::vector<uint32_t>& changes);
  void Note(std::vector<uint32_t>& changes, Kind kind, uint32_t index);

  Delivery delivery_;
  Fd socket_;
  bool follow_ = false;
  std::set<uint32_t> watched_;
  std::vector<uint8_t> buffer_;
};

}  // namespace tapwire
