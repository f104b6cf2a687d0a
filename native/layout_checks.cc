// Every record layout the addon writes and lib/ reads, held at compile time to the
// constants lib/ reads it with (lib/layout.ts and lib/plugins/tls/record.ts, turned into
// layout.h by scripts/layout-header.js): a layout changed on one side only does not
// build. Each group also counts its entries, so one added in TypeScript and not checked
// here does not build either. No code: this file only checks.
#include <linux/types.h>
#include <stddef.h>

#include "common/batch.h"
#include "ebpf/bpf/owner.h"
#include "layout.h"
#include "tls/bpf/tls.h"

namespace tapwire {
namespace {

namespace batch = layout::BATCH_RECORD;
static_assert(kOffset == batch::OFFSET && kCaplen == batch::CAPLEN && kWirelen == batch::WIRELEN, "BATCH_RECORD");
static_assert(kIfindex == batch::IFINDEX && kTsSec == batch::TS_SEC && kTsNsec == batch::TS_NSEC, "BATCH_RECORD");
static_assert(kLink == batch::LINK && kLinkType == batch::LINKTYPE && kMetaWords == batch::WORDS, "BATCH_RECORD");
static_assert(batch::kEntries == 9, "a BATCH_RECORD entry not checked here");

namespace link = layout::BATCH_LINK;
static_assert(kDirectionShift == link::DIRECTION_SHIFT && link::HARDWARE_MASK == 0xffff, "BATCH_LINK");
static_assert(link::kEntries == 2, "a BATCH_LINK entry not checked here");

namespace owner = layout::OWNER_RECORD;
using Owner = struct tapwire_owner;
using Owners = struct tapwire_owners;
static_assert(offsetof(Owner, cgroup_id) == owner::CGROUP_ID && sizeof(Owner::cgroup_id) == 8, "OWNER_RECORD.CGROUP_ID");
static_assert(offsetof(Owner, tgid) == owner::TGID && sizeof(Owner::tgid) == 4, "OWNER_RECORD.TGID");
static_assert(offsetof(Owner, method) == owner::METHOD && sizeof(Owner::method) == 4, "OWNER_RECORD.METHOD");
static_assert(offsetof(Owner, comm) == owner::COMM && sizeof(Owner::comm) == owner::COMM_BYTES, "OWNER_RECORD.COMM");
static_assert(offsetof(Owners, local) == 0 && offsetof(Owners, peer) == owner::PEER && sizeof(Owner) == owner::PEER, "OWNER_RECORD.PEER");
static_assert(sizeof(Owners) == owner::BYTES && kOwnerBytes == owner::BYTES,
              "OWNER_RECORD.BYTES: a batch holds the owners as the kernel wrote them");
static_assert(owner::kEntries == 7, "an OWNER_RECORD entry not checked here");

namespace method = layout::OWNER_METHOD;
static_assert(TAPWIRE_ATTRIBUTION_NONE == method::NONE && TAPWIRE_ATTRIBUTION_SOCKET == method::SOCKET, "OWNER_METHOD");
static_assert(TAPWIRE_ATTRIBUTION_TUPLE == method::TUPLE && TAPWIRE_ATTRIBUTION_CGROUP == method::CGROUP, "OWNER_METHOD");
static_assert(method::kEntries == 4, "an OWNER_METHOD value not checked here");

namespace tls = layout::TLS_RECORD;
using Tls = struct tapwire_tls_record;
static_assert(offsetof(Tls, monotonic_ns) == tls::TIME_NS && sizeof(Tls::monotonic_ns) == 8, "TLS_RECORD.TIME_NS");
static_assert(offsetof(Tls, ssl) == tls::SSL && sizeof(Tls::ssl) == 8, "TLS_RECORD.SSL");
static_assert(offsetof(Tls, pid) == tls::PID && offsetof(Tls, tid) == tls::TID, "TLS_RECORD.PID, TID");
static_assert(offsetof(Tls, total_len) == tls::TOTAL_LEN && offsetof(Tls, offset) == tls::OFFSET, "TLS_RECORD.TOTAL_LEN, OFFSET");
static_assert(offsetof(Tls, chunk_len) == tls::CHUNK_LEN && offsetof(Tls, fd) == tls::FD, "TLS_RECORD.CHUNK_LEN, FD");
static_assert(offsetof(Tls, direction) == tls::DIRECTION && sizeof(Tls::direction) == 1, "TLS_RECORD.DIRECTION");
static_assert(offsetof(Tls, truncated) == tls::TRUNCATED && sizeof(Tls::truncated) == 1, "TLS_RECORD.TRUNCATED");
static_assert(offsetof(Tls, target) == tls::TARGET && sizeof(Tls::target) == 2, "TLS_RECORD.TARGET");
static_assert(offsetof(Tls, comm) == tls::COMM && sizeof(Tls::comm) == tls::COMM_BYTES, "TLS_RECORD.COMM, COMM_BYTES");
static_assert(offsetof(Tls, family) == tls::FAMILY && sizeof(Tls::family) == 1, "TLS_RECORD.FAMILY");
static_assert(offsetof(Tls, stream) == tls::STREAM && sizeof(Tls::stream) == 8, "TLS_RECORD.STREAM");
static_assert(offsetof(Tls, local_addr) == tls::LOCAL_ADDR && offsetof(Tls, remote_addr) == tls::REMOTE_ADDR,
              "TLS_RECORD.LOCAL_ADDR, REMOTE_ADDR");
static_assert(offsetof(Tls, local_port) == tls::LOCAL_PORT && offsetof(Tls, remote_port) == tls::REMOTE_PORT,
              "TLS_RECORD.LOCAL_PORT, REMOTE_PORT");
static_assert(sizeof(Tls) == tls::HEADER_BYTES && alignof(Tls) == tls::ALIGN, "TLS_RECORD.HEADER_BYTES, ALIGN");
static_assert(tls::kEntries == 21, "a TLS_RECORD entry not checked here");

}  // namespace
}  // namespace tapwire
