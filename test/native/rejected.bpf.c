// A program the verifier refuses, after a long walk: its log runs to several KiB, and
// the reason comes last. NAME is set by the compiler's command line, so two objects
// built from this file can be told apart in what libbpf prints.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} values SEC(".maps");

SEC("socket")
int NAME(struct __sk_buff* skb) {
  __u32 key = 0;
  __u64* v = bpf_map_lookup_elem(&values, &key);
  if (!v) return 0;
#pragma unroll
  for (int i = 0; i < 64; i++)
    if (skb->len > i) *v += i;
  return *(v + 2); /* past the 8-byte value */
}
