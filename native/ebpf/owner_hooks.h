// What attributes packets to processes (`attribution: true`): the owners object
// (bpf/owners.bpf.c) with its socket hooks linked at the root of the cgroup v2 tree, so
// every socket a process creates or uses from now on is named in socket-local storage,
// and the iterator (bpf/owner_files.bpf.c) run once over every task's files for the
// sockets that already existed, where the kernel takes it (else proc_sockets.h does
// that from /proc). The capture programs read that storage. The links are file
// descriptors: the kernel removes them when the capture closes or the process dies.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "../common/bpf_objects.h"
#include "../common/fd.h"
#include "proc_sockets.h"

struct owners;

namespace tapwire {

class OwnerHooks {
 public:
  // Loads the programs, links them at `cgroupRoot`, then names the existing sockets
  // (by the iterator where the kernel takes it, else from /proc); throws a JS error
  // (with the verifier's reason when the kernel refuses a hook).
  OwnerHooks(Napi::Env env, const std::string& cgroupRoot);
  ~OwnerHooks();
  OwnerHooks(const OwnerHooks&) = delete;
  OwnerHooks& operator=(const OwnerHooks&) = delete;

  // The socket-local storage the capture programs read (owner.h).
  int MapFd() const;
  // How the sockets open at the start were named: { by: 'iterator' } or
  // { by: 'proc', named, unnamed }.
  Napi::Object ExistingSockets(Napi::Env env) const;

 private:
  // Runs the task-file iterator (`program`) once over every task's files.
  void NameExistingSockets(Napi::Env env, int program);

  Skeleton<struct owners> skel_;
  std::vector<Fd> links_;
  bool byIterator_ = false;
  ProcSockets fromProc_;
};

// probeAttribution('tcx' | 'cgroup') → { ok, errno, message?, program?, log?, iterator,
// iteratorMessage?, iteratorLog?, pidfdGetfd? }: loads the attribution programs (`iterator`: the
// task-file iterator too), and that mode's capture programs reading their storage, then
// frees them all, linking nothing.
Napi::Value ProbeAttribution(const Napi::CallbackInfo& info);

}  // namespace tapwire
