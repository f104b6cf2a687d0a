#include "libbpf_log.h"

#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>

namespace tapwire {

namespace {

thread_local std::string logText;
constexpr size_t kKeep = 4096;

int Collect(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), format, args);
  logText += line;
  if (logText.size() > 2 * kKeep) logText.erase(0, logText.size() - kKeep);
  return n;
}

}  // namespace

void RouteLibbpfLog() { libbpf_set_print(Collect); }

void ClearLibbpfLog() { logText.clear(); }

std::string LibbpfLogTail() {
  return logText.size() > kKeep ? logText.substr(logText.size() - kKeep) : logText;
}

}  // namespace tapwire
