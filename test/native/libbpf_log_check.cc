// Loads two BPF objects the verifier refuses, each on its own thread at the same time,
// each thread collecting libbpf's messages with a LibbpfLog, and writes what each
// collected to a file: OBJECT_A OBJECT_B OUT_A OUT_B.
#include <bpf/libbpf.h>

#include <fstream>
#include <string>
#include <thread>

#include "../../native/common/libbpf_log.h"

namespace {

std::string Load(const char* path) {
  tapwire::LibbpfLog log;
  struct bpf_object* obj = bpf_object__open_file(path, nullptr);
  if (!obj) return "open failed\n";
  bool loaded = bpf_object__load(obj) == 0;
  bpf_object__close(obj);
  return loaded ? "loaded\n" : log.text();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  tapwire::LibbpfLog::Route();
  std::string a, b;
  std::thread first([&] { a = Load(argv[1]); });
  std::thread second([&] { b = Load(argv[2]); });
  first.join();
  second.join();
  std::ofstream(argv[3]) << a;
  std::ofstream(argv[4]) << b;
  return 0;
}
