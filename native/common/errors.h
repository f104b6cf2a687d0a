// Native errors carry the kernel's errno and the failing call; lib/errors.ts turns
// them into TapwireError subclasses, so policy (codes, advice) stays in TypeScript.
#pragma once
#include <napi.h>
#include <string>

namespace tapwire {

Napi::Error SystemError(Napi::Env env, const char* syscall, int err);
Napi::Error PlainError(Napi::Env env, const std::string& message, const char* code);

}  // namespace tapwire
