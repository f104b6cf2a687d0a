// Hands batches from a kernel source to JavaScript on the Node event loop: a libuv poll
// on the source's fd (and, for sources that batch without waking us, a timer) calls
// the source's drain function; each batch is one MakeCallback into JS. Pausing stops
// both, leaving the kernel to buffer and to count what it cannot hold.
#pragma once
#include <napi.h>
#include <uv.h>

#include "batch.h"

namespace tapwire {

class Delivery {
 public:
  using Drain = void (*)(void* source);

  Delivery(Napi::Env env, Napi::Function onBatch, const char* resourceName, Drain drain, void* source);
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  // Drains when `fd` is readable. Throws on failure.
  void Watch(int fd);
  // Also drains every `intervalMs` while running (0: no timer).
  void SetInterval(unsigned intervalMs) { intervalMs_ = intervalMs; }
  void Resume();
  void Pause();
  // Drains now, running or not, ignoring a pause requested meanwhile.
  void Flush();
  // Whether the drain loop should hand over another batch.
  bool wanted() const { return open_ && (running_ || flushing_); }
  // Hands one batch to JS. The callback may pause or close the source.
  void Hand(BatchBuilder& batch);
  // Hands any buffer of `count` items to JS, the same way.
  void Hand(Napi::Value buffer, uint32_t count, double bytes);
  // Stops watching for good; handles are freed by libuv.
  void Close();

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  void RunDrain();

  Napi::Env env_;
  Napi::FunctionReference onBatch_;
  Napi::AsyncContext context_;
  Drain drain_;
  void* source_;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  unsigned intervalMs_ = 0;
  bool running_ = false;
  bool flushing_ = false;
  bool open_ = true;
};

}  // namespace tapwire
