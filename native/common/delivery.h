// Hands batches from a kernel source to JavaScript on the Node event loop: a libuv poll
// on the source's fd (and, for sources that batch without waking us, a timer) calls
// the source's Drain(); each batch is one MakeCallback into JS. Pausing stops both,
// leaving the kernel to buffer and to count what it cannot hold.
//
// Delivery also ends its source with the environment. A worker that ends, or a process
// that exits, with a source still open runs the environment's cleanup: an async cleanup
// hook then releases the source's kernel state and closes the libuv handles, and the
// environment waits until libuv has finished with them, so no callback of this addon
// runs after the environment (and with it, possibly, the addon's code) is gone. While
// the environment stops, JavaScript can no longer be called: handing over a batch then
// fails, and delivery stops instead of throwing from inside libuv.
#pragma once
#include <napi.h>
#include <uv.h>

#include <memory>

#include "batch.h"

namespace tapwire {

class Delivery {
 public:
  // The kernel source a Delivery serves.
  class Source {
   public:
    // Hands over what the kernel has ready, one Hand() per batch, while wanted().
    virtual void Drain() = 0;
    // Frees every kernel resource of the source (no JavaScript). Idempotent.
    virtual void Release() = 0;

   protected:
    ~Source() = default;
  };

  Delivery(Napi::Env env, Napi::Function onBatch, const char* resourceName, Source& source);
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
  bool wanted() const { return handles_ != nullptr && !stopped_ && (running_ || flushing_); }
  // Where batches get their memory.
  const std::shared_ptr<BufferPool>& buffers() const { return buffers_; }
  // Hands one batch to JS: the first `used` bytes of `buffer`, holding `count` records
  // of `bytes` bytes of traffic (and, from `ownersAt` when it is not 0, their owners).
  // The callback may pause or close the source.
  void Hand(PooledBuffer& buffer, size_t used, uint32_t count, double bytes, size_t ownersAt = 0);
  void Hand(BatchBuilder& batch) { Hand(batch.buffer(), batch.size(), batch.count(), batch.wireBytes(), batch.ownersAt()); }
  // Hands over a batch the source lends from its own memory: JavaScript gets its
  // number, `block`, in place of an ArrayBuffer, and gives it back by the source's means.
  void Lend(uint32_t block, uint32_t count, double bytes);
  // The source cannot go on until JavaScript gives something back: the fd stops being
  // watched (it would read as ready, and wake us, until then) ...
  void Starve();
  // ... and is watched again once something is given back (if running).
  void Fed();
  // Stops for good: no callback into JS after this. Idempotent.
  void Close();

 private:
  struct Handles;
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  static void OnEnvironmentCleanup(napi_async_cleanup_hook_handle hook, void* handles);
  void RunDrain();
  void Rearm();
  void Call(napi_value buffer, uint32_t count, double bytes, size_t ownersAt);
  void Failed();

  napi_env env_;
  Source& source_;
  std::shared_ptr<BufferPool> buffers_;
  napi_ref onBatch_ = nullptr;
  napi_async_context context_ = nullptr;
  // The libuv handles and the cleanup hook, apart from this object: libuv finishes
  // closing them after this object may be gone (a source collected by the GC).
  Handles* handles_;
  int watched_ = -1;
  unsigned intervalMs_ = 0;
  bool running_ = false;
  bool flushing_ = false;
  bool stopped_ = false;  // JavaScript can no longer be called
  bool starved_ = false;  // the fd is not watched until Fed()
};

}  // namespace tapwire
