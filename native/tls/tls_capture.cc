#include "tls_capture.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vector>

#include "../common/clock_offset.h"
#include "../common/errors.h"
#include "../common/fd.h"
#include "../common/options.h"
#include "../common/verifier_log.h"
#include "../common/libbpf_log.h"
#include "bpf/tls.h"
#include "tls.skel.h"

namespace tapwire {

namespace {

// lib/plugins/tls/record.ts (TLS_RECORD) reads the records Drain() hands over, each at a
// multiple of 8 bytes (native/layout_checks.cc holds the struct to it).
using Record = struct tapwire_tls_record;

// The raw tracepoints (sys_enter, sched_process_exec): once per capture, not per file.
bool IsRawTracepoint(const struct bpf_program* prog) { return bpf_program__type(prog) == BPF_PROG_TYPE_RAW_TRACEPOINT; }

}  // namespace

Napi::Function TlsCapture::Init(Napi::Env env) {
  return Define(env, "TlsCapture", {InstanceMethod<&TlsCapture::Attach>("attach"), InstanceMethod<&TlsCapture::Unhook>("unhook")});
}

// new TlsCapture({ ringSize, wakeupBytes, batchBytes, selfTgid, pids: number[] | null, cgroup: string | null,
//                  drainIntervalMs }, onBatch)
// creates the maps; attach() then loads the programs once per file they hook.
TlsCapture::TlsCapture(const Napi::CallbackInfo& info) : KernelSource(info, "tapwire:TlsCapture") {
  Napi::Env env = info.Env();
  Napi::Object options = info[0].As<Napi::Object>();
  skel_.reset(tls::open());
  if (!skel_) throw SystemError(env, "bpf_object__open (tls)", errno);
  uint32_t ringSize = UintOption(options, "ringSize");
  if (int err = bpf_map__set_max_entries(skel_->maps.tw_tls_events, ringSize)) throw SystemError(env, "bpf_map__set_max_entries", -err);
  selfTgid_ = UintOption(options, "selfTgid");
  wakeupBytes_ = UintOption(options, "wakeupBytes");
  Napi::Value pids = options.Get("pids");
  onlyListedPids_ = pids.IsArray();
  Napi::Value cgroup = options.Get("cgroup");
  // The maps, and the syscall and exec hooks every file's calls share; the uprobe
  // programs load per file (LoadFor).
  skel_->rodata->self_tgid = selfTgid_;
  skel_->rodata->only_listed_pids = onlyListedPids_;
  skel_->rodata->only_cgroup = cgroup.IsString();
  skel_->rodata->wakeup_bytes = wakeupBytes_;
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) bpf_program__set_autoload(prog, IsRawTracepoint(prog));
  if (int err = tls::load(skel_.get())) throw SystemError(env, "bpf(BPF_PROG_LOAD) of the TLS maps and raw tracepoints", -err);
  bpf_object__for_each_program(prog, skel_->obj) {
    if (!IsRawTracepoint(prog)) continue;
    BpfLink link(bpf_program__attach(prog));
    if (!link) throw SystemError(env, (std::string("bpf(BPF_RAW_TRACEPOINT_OPEN) of ") + bpf_program__name(prog)).c_str(), errno);
    links_.push_back(std::move(link));
  }
  if (pids.IsArray()) {
    Napi::Array list = pids.As<Napi::Array>();
    uint8_t yes = 1;
    for (uint32_t i = 0; i < list.Length(); i++) {
      uint32_t pid = list.Get(i).As<Napi::Number>().Uint32Value();
      if (bpf_map_update_elem(bpf_map__fd(skel_->maps.tw_tls_pids), &pid, &yes, BPF_ANY) != 0)
        throw SystemError(env, "bpf(BPF_MAP_UPDATE_ELEM) of the pid list", errno);
    }
  }
  onlyCgroup_ = cgroup.IsString();
  if (onlyCgroup_) {
    // The map holds the cgroup itself: the directory need not stay open.
    Fd dir(open(cgroup.As<Napi::String>().Utf8Value().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw SystemError(env, "open (the cgroup)", errno);
    uint32_t zero = 0, fd = uint32_t(dir.get());
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.tw_tls_cgroup), &zero, &fd, BPF_ANY) != 0)
      throw SystemError(env, "bpf(BPF_MAP_UPDATE_ELEM) of the cgroup", errno);
  }
  drain_.Open(env, delivery_, bpf_map__fd(skel_->maps.tw_tls_events), ringSize, UintOption(options, "batchBytes"),
              UintOption(options, "drainIntervalMs"));
}

TlsCapture::~TlsCapture() { Release(); }

// The programs for one file, its index and OpenSSL flavor set before load, sharing the
// maps of skel_. One load per file replaces an attach cookie, which Linux 5.10 lacks.
struct tls* TlsCapture::LoadFor(Napi::Env env, uint32_t index, uint32_t flavor, uint32_t goPollDescOffset, uint32_t sslRandomOffset) {
  LibbpfLog libbpf;
  hooked_.emplace_back(tls::open());
  struct tls* programs = hooked_.back().get();
  if (!programs) throw SystemError(env, "bpf_object__open (tls)", errno);
  programs->rodata->self_tgid = selfTgid_;
  programs->rodata->only_listed_pids = onlyListedPids_;
  programs->rodata->only_cgroup = onlyCgroup_;
  programs->rodata->wakeup_bytes = wakeupBytes_;
  programs->rodata->target = uint16_t(index);
  programs->rodata->flavor = uint8_t(flavor);
  programs->rodata->go_poll_desc_offset = goPollDescOffset;
  programs->rodata->ssl_random_offset = sslRandomOffset;
  struct {
    struct bpf_map* mine;
    struct bpf_map* shared;
  } maps[] = {
      {programs->maps.tw_tls_calls, skel_->maps.tw_tls_calls},       {programs->maps.tw_tls_pids, skel_->maps.tw_tls_pids},
      {programs->maps.tw_tls_events, skel_->maps.tw_tls_events},     {programs->maps.tw_tls_returning, skel_->maps.tw_tls_returning},
      {programs->maps.tw_tls_counters, skel_->maps.tw_tls_counters}, {programs->maps.tw_tls_cgroup, skel_->maps.tw_tls_cgroup},
      {programs->maps.tw_tls_streams, skel_->maps.tw_tls_streams},   {programs->maps.tw_tls_stream_ids, skel_->maps.tw_tls_stream_ids},
      {programs->maps.tw_tls_fds, skel_->maps.tw_tls_fds},           {programs->maps.tw_go_calls, skel_->maps.tw_go_calls},
  };
  for (auto& m : maps) {
    if (int err = bpf_map__reuse_fd(m.mine, bpf_map__fd(m.shared))) throw SystemError(env, "bpf_map__reuse_fd", -err);
  }
  VerifierLog log;
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, programs->obj) {
    bpf_program__set_autoload(prog, !IsRawTracepoint(prog));
    log.Catch(prog);
  }
  if (int err = tls::load(programs)) {
    Napi::Error e = SystemError(env, "bpf(BPF_PROG_LOAD) of the TLS programs", -err);
    std::string reason = log.Reason();
    e.Set("log", Napi::String::New(env, reason.empty() ? libbpf.text() : reason));
    throw e;
  }
  return programs;
}

// attach(path, index, flavor, where?) → the functions hooked in that file. A function
// the file does not export is skipped: OpenSSL 1.1.0 has no _ex forms, GnuTLS 3.7 no
// _set_int. A Go binary comes with where = { pollDescOffset, hooks: [{ name, offset,
// program }] } (lib/plugins/tls/go.ts); an OpenSSL library whose internal functions were
// found with where = { read, write }, their file offsets; with keys, where = { keylog }
// the offset of the function every secret goes through, or { logSecret, randomOffset }
// its caller's and where the client random is (lib/plugins/tls/openssl.ts).
Napi::Value TlsCapture::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!skel_) throw PlainError(env, "the TLS capture is closed", "ECLOSED");
  std::string path = info[0].As<Napi::String>();
  uint32_t flavor = info[2].As<Napi::Number>().Uint32Value();
  Napi::Object where = info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object();
  uint32_t pollDescOffset = flavor == TAPWIRE_TLS_GO ? UintOption(where, "pollDescOffset") : 0;
  uint32_t randomOffset = flavor != TAPWIRE_TLS_GO && !where.IsEmpty() && where.Has("randomOffset") ? UintOption(where, "randomOffset") : 0;
  struct tls* programs = LoadFor(env, info[1].As<Napi::Number>().Uint32Value(), flavor, pollDescOffset, randomOffset);
  if (flavor == TAPWIRE_TLS_GO) return AttachGo(env, path, programs, where.Get("hooks").As<Napi::Array>());
  struct Hook {
    const char* name;
    struct bpf_program* entry;
    bool returns;       // the data is copied at return
    size_t offset = 0;  // by file offset; 0: by the exported name
  };
  auto offset = [&](const char* key) { return size_t(where.Get(key).As<Napi::Number>().Int64Value()); };
  // GnuTLS's record functions take (session, buffer) as SSL_read and SSL_write take
  // (ssl, buffer): the same programs read them; the flavor tells where the fd is.
  // OpenSSL's internal functions take the _ex forms' arguments.
  std::vector<Hook> hooks;
  if (flavor == TAPWIRE_TLS_GNUTLS) {
    hooks = {
        {"gnutls_record_send", programs->progs.tw_ssl_write, true},
        {"gnutls_record_recv", programs->progs.tw_ssl_read, true},
        {"gnutls_transport_set_int2", programs->progs.tw_gnutls_transport, false},
        {"gnutls_transport_set_int", programs->progs.tw_gnutls_transport, false},
        {"gnutls_transport_set_ptr", programs->progs.tw_gnutls_transport, false},
        {"gnutls_transport_set_ptr2", programs->progs.tw_gnutls_transport, false},
        {"gnutls_deinit", programs->progs.tw_tls_free, false},
    };
  } else if (!where.IsEmpty() && where.Has("read")) {
    hooks = {
        {"ssl_write_internal", programs->progs.tw_ssl_write_ex, true, offset("write")},
        {"ssl_read_internal", programs->progs.tw_ssl_read_ex, true, offset("read")},
        {"SSL_free", programs->progs.tw_tls_free, false},
    };
  } else {
    hooks = {
        {"SSL_write", programs->progs.tw_ssl_write, true}, {"SSL_write_ex", programs->progs.tw_ssl_write_ex, true},
        {"SSL_read", programs->progs.tw_ssl_read, true},   {"SSL_read_ex", programs->progs.tw_ssl_read_ex, true},
        {"SSL_free", programs->progs.tw_tls_free, false},
    };
  }
  if (flavor != TAPWIRE_TLS_GNUTLS && !where.IsEmpty() && where.Has("keylog"))
    hooks.push_back({"nss_keylog_int", programs->progs.tw_openssl_keylog, false, offset("keylog")});
  if (randomOffset) hooks.push_back({"ssl_log_secret", programs->progs.tw_openssl_log_secret, false, offset("logSecret")});
  Napi::Array attached = Napi::Array::New(env);
  for (auto& hook : hooks) {
    for (bool retprobe : {false, true}) {
      if (retprobe && !hook.returns) break;
      LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe, .func_name = hook.offset ? nullptr : hook.name);
      struct bpf_program* prog = retprobe ? programs->progs.tw_ssl_return : hook.entry;
      BpfLink link(bpf_program__attach_uprobe_opts(prog, -1, path.c_str(), hook.offset, &opts));
      if (!link) {
        int err = errno;
        if (err == ENOENT && !retprobe) break;  // not exported here
        throw SystemError(env, ("uprobe on " + path + ":" + hook.name).c_str(), err);
      }
      links_.push_back(std::move(link));
      if (!retprobe) attached.Set(attached.Length(), Napi::String::New(env, hook.name));
    }
  }
  return attached;
}

// Go's functions by file offset: each hook's program at its instruction. Any failure
// fails the file, whose links made so far go with the capture's on close.
Napi::Array TlsCapture::AttachGo(Napi::Env env, const std::string& path, struct tls* programs, Napi::Array hooks) {
  Napi::Array attached = Napi::Array::New(env);
  std::string last;
  for (uint32_t i = 0; i < hooks.Length(); i++) {
    Napi::Object hook = hooks.Get(i).As<Napi::Object>();
    std::string name = hook.Get("name").As<Napi::String>();
    std::string kind = hook.Get("program").As<Napi::String>();
    struct bpf_program* prog = kind == "read"     ? programs->progs.tw_go_read
                               : kind == "write"  ? programs->progs.tw_go_write
                               : kind == "copy"   ? programs->progs.tw_go_copy
                               : kind == "close"  ? programs->progs.tw_go_close
                               : kind == "keylog" ? programs->progs.tw_go_keylog
                                                  : nullptr;
    if (!prog) throw PlainError(env, ("no Go program " + kind).c_str(), "EINVAL");
    size_t offset = size_t(hook.Get("offset").As<Napi::Number>().Int64Value());
    LIBBPF_OPTS(bpf_uprobe_opts, opts);
    BpfLink link(bpf_program__attach_uprobe_opts(prog, -1, path.c_str(), offset, &opts));
    if (!link) throw SystemError(env, ("uprobe on " + path + ":" + name).c_str(), errno);
    links_.push_back(std::move(link));
    if (name != last) attached.Set(attached.Length(), Napi::String::New(env, name));
    last = name;
  }
  return attached;
}

void TlsCapture::Drain() {
  drain_.Drain(delivery_, [this](RingReader& ring, size_t take) {
    // Records come out no longer than they were in the ring, but the last one taken
    // may reach past `take`.
    PooledBuffer out(delivery_.buffers(), take + sizeof(Record) + TAPWIRE_TLS_CHUNK);
    if (!out.ok()) return ring.Consume(take, [this](const uint8_t*, uint32_t) { droppedHere_++; });
    size_t used = 0;
    uint32_t count = 0;
    int64_t offset = clock_.Now();
    // A call's chunks usually follow one another in the ring: they are joined here
    // into one record, so JavaScript gets the call whole. Chunks that another thread's
    // records split are joined there instead.
    size_t last = SIZE_MAX;  // where the previous record starts in `out`
    size_t consumed = ring.Consume(take, [&](const uint8_t* data, uint32_t size) {
      Record r;
      if (size < sizeof(r)) return;
      memcpy(&r, data, sizeof(r));
      if (r.chunk_len > size - sizeof(r)) {
        droppedHere_++;
        return;
      }
      r.monotonic_ns = uint64_t(int64_t(r.monotonic_ns) + offset);
      if (last != SIZE_MAX) {
        auto* prev = reinterpret_cast<Record*>(out.data() + last);
        if (prev->tid == r.tid && prev->monotonic_ns == r.monotonic_ns && prev->offset + prev->chunk_len == r.offset) {
          size_t joined = last + ((sizeof(r) + prev->chunk_len + r.chunk_len + 7) & ~size_t(7));
          if (joined > out.capacity()) {
            droppedHere_++;
            return;
          }
          memcpy(out.data() + last + sizeof(r) + prev->chunk_len, data + sizeof(r), r.chunk_len);
          prev->chunk_len += r.chunk_len;
          used = joined;
          return;
        }
      }
      size_t end = used + ((sizeof(r) + r.chunk_len + 7) & ~size_t(7));
      if (end > out.capacity()) {
        droppedHere_++;
        return;
      }
      memcpy(out.data() + used, &r, sizeof(r));
      memcpy(out.data() + used + sizeof(r), data + sizeof(r), r.chunk_len);
      last = used;
      used = end;
      count++;
    });
    delivery_.Hand(out, used, count, double(used));
    return consumed;
  });
}

// No call enters the ring after this returns; a flush then hands over every record.
void TlsCapture::Detach(Napi::Env) { links_.clear(); }

namespace {

// Destroys links on a libuv worker thread. The kernel removes uprobes one at a time, each
// after a grace period (about 100 ms each on 6.18, side by side or not): 14 took 2.2 s,
// which on the JavaScript thread stalled the event loop of whatever embeds the capture.
class Unhooking : public Napi::AsyncWorker {
 public:
  Unhooking(Napi::Env env, std::vector<BpfLink> links)
      : Napi::AsyncWorker(env, "tapwire:TlsCapture.unhook"), links_(std::move(links)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override { links_.clear(); }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::vector<BpfLink> links_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace

// unhook() → Promise: the links made so far go off the JavaScript thread. Files hooked
// meanwhile keep theirs until detach(), which close() calls after.
Napi::Value TlsCapture::Unhook(const Napi::CallbackInfo& info) {
  auto* worker = new Unhooking(info.Env(), std::move(links_));
  links_.clear();
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // the worker deletes itself once settled
  return promise;
}

void TlsCapture::ReadCounters() {
  int fd = bpf_map__fd(skel_->maps.tw_tls_counters);
  lostRecords_ = SumPerCpu(fd, TAPWIRE_TLS_LOST_RECORDS) + droppedHere_;
  truncatedBytes_ = SumPerCpu(fd, TAPWIRE_TLS_TRUNCATED_BYTES);
}

void TlsCapture::PutStats(Napi::Env env, Napi::Object& out) {
  out.Set("lostRecords", Napi::Number::New(env, double(lostRecords_)));
  out.Set("truncatedBytes", Napi::Number::New(env, double(truncatedBytes_)));
}

void TlsCapture::Release() {
  links_.clear();
  delivery_.Close();
  drain_.Close();
  hooked_.clear();
  skel_.reset();
}

}  // namespace tapwire
