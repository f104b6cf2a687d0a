#include "owner_hooks.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "../common/errors.h"
#include "../common/verifier_log.h"
#include "capture_programs.h"
#include "owner_files.skel.h"
#include "owners.skel.h"

namespace tapwire {

namespace {

// A skeleton loaded; throws with the verifier's reason when the kernel refuses it.
template <typename Skel>
Skeleton<Skel> Load(Napi::Env env, Skeleton<Skel> skel, const char* what, int reuseOwners = -1) {
  if (!skel) throw SystemError(env, "bpf_object__open (attribution)", errno);
  if (reuseOwners >= 0) {
    if (int err = bpf_map__reuse_fd(skel->maps.tw_owners, reuseOwners)) throw SystemError(env, "bpf_map__reuse_fd", -err);
  }
  VerifierLog log;
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, skel->obj) log.Catch(prog);
  if (int err = Skel::load(skel.get())) {
    Napi::Error e = SystemError(env, what, -err);
    e.Set("program", Napi::String::New(env, what));
    std::string reason = log.Reason();
    if (!reason.empty()) e.Set("log", Napi::String::New(env, reason));
    throw e;
  }
  return skel;
}

Skeleton<struct owners> LoadHooks(Napi::Env env) { return Load(env, Skeleton<struct owners>(owners::open()), "the attribution hooks"); }

// The iterator, sharing the hooks' storage; null, and `refused` (if given) saying why,
// where the kernel will not have it (no BTF; bpf_sock_from_file is Linux 5.11+).
Skeleton<struct owner_files> LoadIterator(Napi::Env env, int ownersFd, Napi::Object* refused) {
  try {
    return Load(env, Skeleton<struct owner_files>(owner_files::open()), "the task-file iterator", ownersFd);
  } catch (const Napi::Error& e) {
    if (refused) *refused = e.Value();
  }
  return {};
}

}  // namespace

OwnerHooks::OwnerHooks(Napi::Env env, const std::string& cgroupRoot) : skel_(LoadHooks(env)) {
  Fd root(open(cgroupRoot.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw SystemError(env, "open (the root cgroup)", errno);
  const struct {
    struct bpf_program* prog;
    enum bpf_attach_type type;
  } hooks[] = {
      {skel_->progs.tw_own_create, BPF_CGROUP_INET_SOCK_CREATE}, {skel_->progs.tw_own_bind4, BPF_CGROUP_INET4_POST_BIND},
      {skel_->progs.tw_own_bind6, BPF_CGROUP_INET6_POST_BIND},   {skel_->progs.tw_own_connect4, BPF_CGROUP_INET4_CONNECT},
      {skel_->progs.tw_own_connect6, BPF_CGROUP_INET6_CONNECT},  {skel_->progs.tw_own_sendmsg4, BPF_CGROUP_UDP4_SENDMSG},
      {skel_->progs.tw_own_sendmsg6, BPF_CGROUP_UDP6_SENDMSG},   {skel_->progs.tw_own_recvmsg4, BPF_CGROUP_UDP4_RECVMSG},
      {skel_->progs.tw_own_recvmsg6, BPF_CGROUP_UDP6_RECVMSG},
  };
  // Hooks first, then the iterator: a socket made between the two is named by its hook.
  for (const auto& hook : hooks) {
    Fd link(bpf_link_create(bpf_program__fd(hook.prog), root.get(), hook.type, nullptr));
    if (!link) throw SystemError(env, "bpf(BPF_LINK_CREATE) cgroup socket hook", errno);
    links_.push_back(std::move(link));
  }
  Skeleton<struct owner_files> iterator = LoadIterator(env, MapFd(), nullptr);
  byIterator_ = static_cast<bool>(iterator);
  if (byIterator_)
    NameExistingSockets(env, bpf_program__fd(iterator->progs.tw_own_files));
  else
    fromProc_ = NameSocketsFromProc(MapFd(), cgroupRoot);
}

OwnerHooks::~OwnerHooks() = default;

int OwnerHooks::MapFd() const { return bpf_map__fd(skel_->maps.tw_owners); }

Napi::Object OwnerHooks::ExistingSockets(Napi::Env env) const {
  Napi::Object o = Napi::Object::New(env);
  o.Set("by", byIterator_ ? "iterator" : "proc");
  if (!byIterator_) {
    o.Set("named", fromProc_.named);
    o.Set("unnamed", fromProc_.unnamed);
  }
  return o;
}

// An iterator runs as its file is read; one read to the end visits every task's files.
void OwnerHooks::NameExistingSockets(Napi::Env env, int program) {
  Fd link(bpf_link_create(program, 0, BPF_TRACE_ITER, nullptr));
  if (!link) throw SystemError(env, "bpf(BPF_LINK_CREATE) task file iterator", errno);
  Fd iter(bpf_iter_create(link.get()));
  if (!iter) throw SystemError(env, "bpf(BPF_ITER_CREATE)", errno);
  char buf[256];
  for (;;) {
    ssize_t n = read(iter.get(), buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      // EAGAIN: the kernel pauses an iterator that writes nothing after a million
      // objects (bpf_seq_read); reading again goes on where it stopped.
      if (errno == EINTR || errno == EAGAIN) continue;
      throw SystemError(env, "read (the task file iterator)", errno);
    }
  }
}

Napi::Value ProbeAttribution(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Hook hook = HookNamed(info[0].As<Napi::String>().Utf8Value());
  return ProbeResult(env, [&](Napi::Object& result) {
    Skeleton<struct owners> skel = LoadHooks(env);
    Napi::Object refused;
    LoadIterator(env, bpf_map__fd(skel->maps.tw_owners), &refused);
    result.Set("iterator", refused.IsEmpty());
    if (!refused.IsEmpty()) {
      result.Set("pidfdGetfd", HasPidfdGetfd());
      result.Set("iteratorMessage", refused.Get("message"));
      if (refused.Has("log")) result.Set("iteratorLog", refused.Get("log"));
    }
    LoadProbePrograms(env, hook, bpf_map__fd(skel->maps.tw_owners));
  });
}

}  // namespace tapwire
