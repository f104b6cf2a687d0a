// libbpf's messages (verifier logs among them) are kept for error messages instead of
// printed: libbpf's own hints ("raise ulimit -l") are often about something else.
#pragma once
#include <string>

namespace tapwire {

void RouteLibbpfLog();
void ClearLibbpfLog();
// The last lines libbpf printed, for an error message.
std::string LibbpfLogTail();

}  // namespace tapwire
