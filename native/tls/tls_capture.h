// The TLS plugin's native half: loads the uprobe programs (skeleton), attaches them to
// SSL_read/SSL_write(_ex), GnuTLS's and Go's functions in the libraries and binaries it
// is given (by file, so later processes are covered; links are owned by file
// descriptors), and hands the ring buffer's records to JavaScript in batches, which
// joins a call's chunks.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "../common/bpf_objects.h"
#include "../common/clock_offset.h"
#include "../common/kernel_source.h"
#include "../common/ring_drain.h"

struct tls;

namespace tapwire {

class TlsCapture : public KernelSource<TlsCapture> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit TlsCapture(const Napi::CallbackInfo& info);
  ~TlsCapture() override;

 private:
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value Unhook(const Napi::CallbackInfo& info);
  struct tls* LoadFor(Napi::Env env, uint32_t index, uint32_t flavor, uint32_t goPollDescOffset, uint32_t sslRandomOffset);
  Napi::Array AttachGo(Napi::Env env, const std::string& path, struct tls* programs, Napi::Array hooks);

  bool IsOpen() const override { return skel_ != nullptr; }
  void Detach(Napi::Env env) override;
  void Flushing(bool detached) override { drain_.SetDetached(detached); }
  void ReadCounters() override;
  void PutStats(Napi::Env env, Napi::Object& out) override;
  void Drain() override;
  void Release() override;

  Skeleton<struct tls> skel_;                 // the maps every file's programs share, and the syscall hook
  std::vector<Skeleton<struct tls>> hooked_;  // programs loaded for one file each
  uint32_t selfTgid_ = 0;
  bool onlyListedPids_ = false;
  bool onlyCgroup_ = false;
  uint64_t wakeupBytes_ = 0;
  std::vector<BpfLink> links_;
  RingDrain drain_;
  ClockOffset clock_;
  uint64_t lostRecords_ = 0;
  uint64_t droppedHere_ = 0;  // records read but not handed over: a length the ring contradicts, no memory
  uint64_t truncatedBytes_ = 0;
};

}  // namespace tapwire
