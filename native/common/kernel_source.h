// What the three kernel sources (EbpfCapture, PacketRing, TlsCapture) have in common:
// a JavaScript object that owns kernel state and hands what the kernel captured to
// onBatch through a Delivery, with one lifecycle and one close protocol:
//   resume() / pause()  start and stop handing over (a paused kernel ring buffers,
//                       and counts what it cannot hold);
//   detach()            nothing new enters the ring after it returns;
//   flush()             hands over what the ring holds now, paused or not;
//   stats()             the source's counters;
//   close()             reads the counters a last time and frees every kernel resource.
// lib/ closes a source with detach(), flush() (after whatever wait the kernel needs),
// close(); close() alone frees everything too, handing nothing over.
#pragma once
#include <napi.h>

#include <initializer_list>
#include <vector>

#include "delivery.h"

namespace tapwire {

template <typename Derived>
class KernelSource : public Napi::ObjectWrap<Derived>, private Delivery::Source {
 public:
  using Wrap = Napi::ObjectWrap<Derived>;

 protected:
  // new Derived(options, onBatch(arrayBuffer, count, bytes))
  KernelSource(const Napi::CallbackInfo& info, const char* resourceName)
      : Wrap(info), delivery_(info.Env(), info[1].As<Napi::Function>(), resourceName, *this) {}
  ~KernelSource() = default;  // Derived's destructor calls Release(): its members go first

  // The class with the common methods and `more`.
  static Napi::Function Define(Napi::Env env, const char* name, std::initializer_list<typename Wrap::PropertyDescriptor> more = {}) {
    using Method = Napi::Value (Derived::*)(const Napi::CallbackInfo&);
    std::vector<typename Wrap::PropertyDescriptor> methods = {
        Wrap::InstanceMethod("resume", static_cast<Method>(&KernelSource::JsResume)),
        Wrap::InstanceMethod("pause", static_cast<Method>(&KernelSource::JsPause)),
        Wrap::InstanceMethod("flush", static_cast<Method>(&KernelSource::JsFlush)),
        Wrap::InstanceMethod("detach", static_cast<Method>(&KernelSource::JsDetach)),
        Wrap::InstanceMethod("stats", static_cast<Method>(&KernelSource::JsStats)),
        Wrap::InstanceMethod("close", static_cast<Method>(&KernelSource::JsClose)),
    };
    methods.insert(methods.end(), more);
    return Wrap::DefineClass(env, name, methods);
  }

  // Whether the kernel state is there (not yet released).
  virtual bool IsOpen() const = 0;
  // Stops anything new entering the ring: unhooks programs, rejects on the socket.
  virtual void Detach(Napi::Env env) = 0;
  // Called before each flush, with whether detach() was called since the last open.
  virtual void Flushing(bool /*detached*/) {}
  // Reads the kernel's counters into the source's own (no JavaScript).
  virtual void ReadCounters() {}
  // close() from JavaScript, before Release(): what must be done with the environment
  // (detaching the ArrayBuffers a source lends out of its own memory).
  virtual void Closing(Napi::Env /*env*/) {}
  virtual void PutStats(Napi::Env env, Napi::Object& out) = 0;
  // Hands over what the kernel has ready, one delivery_.Hand() per batch, while
  // delivery_.wanted(); frees every kernel resource (idempotent, no JavaScript).
  void Drain() override = 0;
  void Release() override = 0;

  // Whether detach() was called: nothing may be hooked after it.
  bool detached() const { return detached_; }

  Delivery delivery_;

 private:
  Napi::Value JsResume(const Napi::CallbackInfo& info) {
    if (IsOpen()) delivery_.Resume();
    return info.Env().Undefined();
  }
  Napi::Value JsPause(const Napi::CallbackInfo& info) {
    delivery_.Pause();
    return info.Env().Undefined();
  }
  Napi::Value JsFlush(const Napi::CallbackInfo& info) {
    Flushing(detached_);
    if (IsOpen()) delivery_.Flush();
    return info.Env().Undefined();
  }
  Napi::Value JsDetach(const Napi::CallbackInfo& info) {
    if (IsOpen()) Detach(info.Env());
    detached_ = true;
    return info.Env().Undefined();
  }
  Napi::Value JsStats(const Napi::CallbackInfo& info) {
    if (IsOpen()) ReadCounters();
    Napi::Object out = Napi::Object::New(info.Env());
    PutStats(info.Env(), out);
    return out;
  }
  Napi::Value JsClose(const Napi::CallbackInfo& info) {
    if (IsOpen()) ReadCounters();
    Closing(info.Env());
    Release();
    return info.Env().Undefined();
  }

  bool detached_ = false;
};

}  // namespace tapwire
