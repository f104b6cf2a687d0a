#include "delivery.h"

#include "errors.h"

namespace tapwire {

Delivery::Delivery(Napi::Env env, Napi::Function onBatch, const char* resourceName, Drain drain,
                   void* source)
    : env_(env),
      onBatch_(Napi::Persistent(onBatch)),
      context_(env, resourceName),
      drain_(drain),
      source_(source) {}

Delivery::~Delivery() { Close(); }

void Delivery::Watch(int fd) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env_, &loop);
  poll_ = new uv_poll_t;
  if (int rc = uv_poll_init(loop, poll_, fd); rc != 0) {
    delete poll_;
    poll_ = nullptr;
    throw SystemError(env_, "uv_poll_init", -rc);
  }
  poll_->data = this;
}

void Delivery::Resume() {
  if (!open_ || running_) return;
  if (poll_) {
    if (int rc = uv_poll_start(poll_, UV_READABLE, OnPoll); rc != 0) throw SystemError(env_, "uv_poll_start", -rc);
  }
  if (intervalMs_ > 0) {
    if (!timer_) {
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env_, &loop);
      timer_ = new uv_timer_t;
      uv_timer_init(loop, timer_);
      timer_->data = this;
    }
    uv_timer_start(timer_, OnTimer, intervalMs_, intervalMs_);
  }
  running_ = true;
}

void Delivery::Pause() {
  if (poll_) uv_poll_stop(poll_);
  if (timer_) uv_timer_stop(timer_);
  running_ = false;
}

void Delivery::Flush() {
  flushing_ = true;
  drain_(source_);
  flushing_ = false;
}

void Delivery::Hand(BatchBuilder& batch) {
  if (batch.count() == 0) return;
  uint32_t count = batch.count();
  double wireBytes = batch.wireBytes();
  Hand(batch.Finish(env_), count, wireBytes);
}

void Delivery::Hand(Napi::Value buffer, uint32_t count, double bytes) {
  onBatch_.MakeCallback(onBatch_.Value(), {buffer, Napi::Number::New(env_, count), Napi::Number::New(env_, bytes)},
                        context_);
}

void Delivery::RunDrain() {
  Napi::HandleScope scope(env_);
  try {
    drain_(source_);
  } catch (const Napi::Error& e) {
    // A throwing 'batch' listener: report it the way Node reports any listener's
    // uncaught exception rather than losing it inside a libuv callback.
    napi_fatal_exception(env_, e.Value());
  }
}

void Delivery::OnPoll(uv_poll_t* handle, int status, int) {
  if (status < 0) return;
  static_cast<Delivery*>(handle->data)->RunDrain();
}

void Delivery::OnTimer(uv_timer_t* handle) { static_cast<Delivery*>(handle->data)->RunDrain(); }

void Delivery::Close() {
  Pause();
  open_ = false;
  if (poll_) {
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (timer_) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
}

}  // namespace tapwire
