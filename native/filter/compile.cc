// pcap-filter(7) → classic BPF, by libpcap itself: the program the kernel runs is the
// one tcpdump would run for the same expression, link type and snaplen. libpcap's
// optimizer can take minutes on a large expression, so the compile runs on libuv's
// thread pool and the event loop goes on meanwhile.
#include "filter.h"
#include "pcap_linux.h"

#include <napi.h>
#include <pcap/pcap.h>
#include <string.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../file/savefile.h"

namespace tapwire {

namespace {

// libpcap's code generator keeps global state in older releases: one compile at a
// time in the process, whichever thread or environment asks. (A mutex needs no
// destructor, so none runs when the process exits mid-compile.)
std::mutex compileLock;

struct Compile {
  std::string expression;
  int linkType;
  int snaplen;
  // For a file: its byte order differs from this host's. -1: a live link.
  int swapped = -1;
  // The file header libpcap reads (for a file), alive until the pcap_t is closed.
  std::vector<uint8_t> header;
  napi_deferred deferred = nullptr;
  napi_async_work work = nullptr;
  // Results, written on the pool thread.
  std::vector<uint8_t> program;
  std::string error;
};

// libpcap compiles differently for a file than for a live link: it maps the file's
// LINKTYPE_ to its DLT_, and on DLT_NULL it byte-swaps the address family of a file
// written on a host of the other byte order and accepts every BSD's AF_INET6. So a
// file's filter is compiled on a pcap_t that libpcap opened from a file header made in
// memory, in the file's byte order: what `tcpdump -r` compiles, by construction.
pcap_t* OpenFileHeader(Compile* c) {
  c->header = SavefileHeader(uint32_t(c->linkType), uint32_t(c->snaplen), c->swapped == 1);
  return OpenSavefile(c->header, c->error);
}

void Run(napi_env, void* data) {
  Compile* c = static_cast<Compile*>(data);
  // libpcap reads the expression as a C string: what follows a NUL would be ignored.
  if (size_t nul = c->expression.find('\0'); nul != std::string::npos) {
    c->error = "the expression holds a NUL character (at offset " + std::to_string(nul) + ")";
    return;
  }
  std::lock_guard<std::mutex> guard(compileLock);
  pcap_t* p = c->swapped < 0 ? pcap_open_dead(c->linkType, c->snaplen) : OpenFileHeader(c);
  if (!p) {
    if (c->error.empty()) c->error = "pcap_open_dead failed";
    return;
  }
  // A live link's program is the one tcpdump attaches on Linux: `vlan` also tests the
  // tag the kernel moved into metadata. A file's frames carry their tags in the bytes.
  if (c->swapped < 0) tapwire_pcap_compile_as_linux(p);
  struct bpf_program prog;
  if (pcap_compile(p, &prog, c->expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    c->error = pcap_geterr(p);
  } else {
    static_assert(sizeof(struct bpf_insn) == 8, "classic BPF instructions are 8 bytes");
    const auto* bytes = reinterpret_cast<const uint8_t*>(prog.bf_insns);
    c->program.assign(bytes, bytes + size_t(prog.bf_len) * 8);
    pcap_freecode(&prog);
  }
  pcap_close(p);
}

// Settles the promise. When the environment is stopping, the N-API calls fail and
// nothing is settled: no one is left to see it.
void Done(napi_env env, napi_status, void* data) {
  Compile* c = static_cast<Compile*>(data);
  napi_value result;
  if (c->error.empty()) {
    void* copy;
    if (napi_create_buffer_copy(env, c->program.size(), c->program.data(), &copy, &result) == napi_ok)
      napi_resolve_deferred(env, c->deferred, result);
  } else {
    napi_value message, code;
    if (napi_create_string_utf8(env, c->error.data(), c->error.size(), &message) == napi_ok &&
        napi_create_error(env, nullptr, message, &result) == napi_ok &&
        napi_create_string_utf8(env, "EFILTER", NAPI_AUTO_LENGTH, &code) == napi_ok &&
        napi_set_named_property(env, result, "nativeCode", code) == napi_ok)
      napi_reject_deferred(env, c->deferred, result);
  }
  napi_delete_async_work(env, c->work);
  delete c;
}

}  // namespace

// compileFilter(expression, dlt, snaplen[, swapped]) → Promise of a Buffer of struct
// sock_filter (u16 code, u8 jt, u8 jf, u32 k), ready for SO_ATTACH_FILTER; rejects
// with nativeCode 'EFILTER' and libpcap's message. With `swapped` (a boolean), the
// program is for a capture file instead: the second argument is then the LINKTYPE_
// the file records, and `swapped` says whether the file's byte order is not this host's.
Napi::Value CompileFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto c = std::make_unique<Compile>();
  c->expression = info[0].As<Napi::String>();
  c->linkType = info[1].As<Napi::Number>().Int32Value();
  c->snaplen = info[2].As<Napi::Number>().Int32Value();
  if (info.Length() > 3 && info[3].IsBoolean()) c->swapped = info[3].As<Napi::Boolean>().Value() ? 1 : 0;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &c->deferred, &promise), Napi::Value());
  NAPI_THROW_IF_FAILED(env,
                       napi_create_async_work(env, nullptr, Napi::String::New(env, "tapwire:compileFilter"), Run, Done, c.get(), &c->work),
                       Napi::Value());
  if (napi_status status = napi_queue_async_work(env, c->work); status != napi_ok) {
    napi_delete_async_work(env, c->work);
    NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  }
  c.release();  // Done() deletes it
  return Napi::Value(env, promise);
}

}  // namespace tapwire
