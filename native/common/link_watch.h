// Tells JavaScript when a watched network interface goes away (deleted, or moved to
// another network namespace): an rtnetlink socket subscribed to link events, polled on
// the event loop like a capture. Which interfaces matter, and what their loss means for
// a capture, is decided in TypeScript.
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
  // new LinkWatch(ifindexes, onGone(ArrayBuffer of u32 ifindexes, count))
  explicit LinkWatch(const Napi::CallbackInfo& info);
  ~LinkWatch() override;

 private:
  // missing() → the watched ifindexes that do not exist now (one may have gone before
  // the watch began); each is reported once, here or to onGone.
  Napi::Value Missing(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void Drain() override;
  void Release() override;
  // Moves the watched interfaces that no longer exist to `gone`.
  void TakeMissing(std::vector<uint32_t>& gone);

  Delivery delivery_;
  Fd socket_;
  std::set<uint32_t> watched_;
  std::vector<uint8_t> buffer_;
};

}  // namespace tapwire
