// Owners for what libbpf hands out: a link (an attached uprobe) and a skeleton (a loaded
// BPF object: its programs and maps). Each is destroyed exactly once, by its owner.
#pragma once
#include <bpf/libbpf.h>

#include <memory>

namespace tapwire {

struct LinkDestroyer {
  void operator()(struct bpf_link* link) const { bpf_link__destroy(link); }
};
using BpfLink = std::unique_ptr<struct bpf_link, LinkDestroyer>;

// `Skel` is a struct bpftool generated (bpftool gen skeleton), with its static destroy().
template <typename Skel>
struct SkeletonDestroyer {
  void operator()(Skel* skel) const { Skel::destroy(skel); }
};
template <typename Skel>
using Skeleton = std::unique_ptr<Skel, SkeletonDestroyer<Skel>>;

}  // namespace tapwire
