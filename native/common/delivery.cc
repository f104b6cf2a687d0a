#include "delivery.h"

#include <string.h>
#include <sys/socket.h>

#include "errors.h"
#include "instance.h"

namespace tapwire {

struct Delivery::Handles {
  uv_poll_t poll;
  uv_timer_t timer;
  bool pollOpen = false;
  bool timerOpen = false;
  int closing = 0;
  napi_async_cleanup_hook_handle hook = nullptr;
  Delivery* owner = nullptr;  // null once the Delivery has closed

  void Close() {
    owner = nullptr;
    if (pollOpen) Close(reinterpret_cast<uv_handle_t*>(&poll));
    if (timerOpen) Close(reinterpret_cast<uv_handle_t*>(&timer));
    if (closing == 0) Finish();
  }

  void Close(uv_handle_t* handle) {
    closing++;
    uv_close(handle, [](uv_handle_t* h) {
      Handles* self = static_cast<Handles*>(h->data);
      if (--self->closing == 0) self->Finish();
    });
  }

  // Libuv is done with the handles: the environment need not wait for them any more.
  void Finish() {
    if (hook) napi_remove_async_cleanup_hook(hook);
    delete this;
  }
};

Delivery::Delivery(Napi::Env env, Napi::Function onBatch, const char* resourceName, Source& source)
    : env_(env), source_(source), buffers_(Instance::Of(env).buffers), handles_(new Handles) {
  handles_->owner = this;
  napi_value name;
  napi_status status = napi_create_reference(env_, onBatch, 1, &onBatch_);
  if (status == napi_ok) status = napi_create_string_utf8(env_, resourceName, NAPI_AUTO_LENGTH, &name);
  if (status == napi_ok) status = napi_async_init(env_, nullptr, name, &context_);
  if (status == napi_ok) status = napi_add_async_cleanup_hook(env_, OnEnvironmentCleanup, handles_, &handles_->hook);
  if (status != napi_ok) {
    Close();
    throw Napi::Error::New(env);
  }
}

Delivery::~Delivery() { Close(); }

void Delivery::Watch(int fd) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env_, &loop);
  if (int rc = uv_poll_init(loop, &handles_->poll, fd); rc != 0) throw SystemError(env_, "uv_poll_init", -rc);
  handles_->poll.data = handles_;
  handles_->pollOpen = true;
  watched_ = fd;
}

void Delivery::Resume() {
  if (!handles_ || running_ || stopped_) return;
  starved_ = false;  // one wake-up finds out whether it still is
  if (handles_->pollOpen) {
    if (int rc = uv_poll_start(&handles_->poll, UV_READABLE, OnPoll); rc != 0) throw SystemError(env_, "uv_poll_start", -rc);
  }
  if (intervalMs_ > 0) {
    if (!handles_->timerOpen) {
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env_, &loop);
      uv_timer_init(loop, &handles_->timer);
      handles_->timer.data = handles_;
      handles_->timerOpen = true;
    }
    uv_timer_start(&handles_->timer, OnTimer, intervalMs_, intervalMs_);
  }
  running_ = true;
}

void Delivery::Pause() {
  if (handles_ && handles_->pollOpen) uv_poll_stop(&handles_->poll);
  if (handles_ && handles_->timerOpen) uv_timer_stop(&handles_->timer);
  running_ = false;
}

void Delivery::Flush() {
  if (!handles_) return;
  flushing_ = true;
  source_.Drain();
  flushing_ = false;
}

void Delivery::Hand(PooledBuffer& buffer, size_t used, uint32_t count, double bytes, size_t ownersAt) {
  if (count == 0) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env_, &scope) != napi_ok) return Failed();
  napi_value arrayBuffer;
  if (buffer.Finish(env_, used, &arrayBuffer) == napi_ok) {
    Call(arrayBuffer, count, bytes, ownersAt);
  } else {
    Failed();
  }
  napi_close_handle_scope(env_, scope);
}

void Delivery::Lend(uint32_t block, uint32_t count, double bytes) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env_, &scope) != napi_ok) return Failed();
  napi_value index;
  if (napi_create_uint32(env_, block, &index) == napi_ok) {
    Call(index, count, bytes, 0);
  } else {
    Failed();
  }
  napi_close_handle_scope(env_, scope);
}

void Delivery::Starve() {
  if (!handles_ || !handles_->pollOpen || starved_) return;
  uv_poll_stop(&handles_->poll);
  starved_ = true;
}

void Delivery::Fed() {
  if (!starved_) return;
  starved_ = false;
  if (handles_ && running_ && handles_->pollOpen) uv_poll_start(&handles_->poll, UV_READABLE, OnPoll);
}

void Delivery::Call(napi_value buffer, uint32_t count, double bytes, size_t ownersAt) {
  napi_value fn, recv, result;
  napi_value argv[4] = {buffer, nullptr, nullptr, nullptr};
  if (napi_get_reference_value(env_, onBatch_, &fn) != napi_ok || napi_get_global(env_, &recv) != napi_ok ||
      napi_create_uint32(env_, count, &argv[1]) != napi_ok || napi_create_double(env_, bytes, &argv[2]) != napi_ok ||
      napi_create_uint32(env_, uint32_t(ownersAt), &argv[3]) != napi_ok ||
      napi_make_callback(env_, context_, recv, fn, 4, argv, &result) != napi_ok) {
    Failed();
  }
}

// A listener that threw is reported the way Node reports any listener's uncaught
// exception, and delivery goes on. Anything else means JavaScript cannot be called
// any more (the environment is stopping): delivery stops.
void Delivery::Failed() {
  bool pending = false;
  if (napi_is_exception_pending(env_, &pending) == napi_ok && pending) {
    napi_value error;
    if (napi_get_and_clear_last_exception(env_, &error) == napi_ok && napi_fatal_exception(env_, error) == napi_ok) return;
  }
  Pause();
  stopped_ = true;
}

void Delivery::RunDrain() {
  if (stopped_) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env_, &scope) != napi_ok) return;
  try {
    source_.Drain();
  } catch (const std::exception& e) {
    // Drains use no call that throws a JavaScript error; this is memory running out.
    napi_value message, error;
    if (napi_create_string_utf8(env_, e.what(), NAPI_AUTO_LENGTH, &message) == napi_ok &&
        napi_create_error(env_, nullptr, message, &error) == napi_ok) {
      napi_fatal_exception(env_, error);
    }
  }
  napi_close_handle_scope(env_, scope);
}

void Delivery::OnPoll(uv_poll_t* handle, int status, int) {
  Handles* h = static_cast<Handles*>(handle->data);
  if (!h->owner) return;
  if (status < 0) h->owner->Rearm();
  h->owner->RunDrain();
}

// libuv stops a poll handle that reports POLLERR. A packet socket reports ENETDOWN
// while its interface is down and captures again once it is up: take the error
// (reading SO_ERROR clears it) and watch on, as tcpdump does.
void Delivery::Rearm() {
  int err = 0;
  socklen_t length = sizeof(err);
  getsockopt(watched_, SOL_SOCKET, SO_ERROR, &err, &length);
  if (running_) uv_poll_start(&handles_->poll, UV_READABLE, OnPoll);
}

void Delivery::OnTimer(uv_timer_t* handle) {
  Handles* h = static_cast<Handles*>(handle->data);
  if (h->owner) h->owner->RunDrain();
}

void Delivery::OnEnvironmentCleanup(napi_async_cleanup_hook_handle, void* arg) {
  Handles* h = static_cast<Handles*>(arg);
  // With the owner gone, libuv is closing the handles already and Finish() ends the hook.
  if (Delivery* d = h->owner) {
    d->source_.Release();
    d->Close();
  }
}

void Delivery::Close() {
  if (!handles_) return;
  Pause();
  Handles* h = handles_;
  handles_ = nullptr;
  if (onBatch_) napi_delete_reference(env_, onBatch_);
  onBatch_ = nullptr;
  if (context_) napi_async_destroy(env_, context_);
  context_ = nullptr;
  h->Close();
}

}  // namespace tapwire
