// Reading the option objects lib/ passes in: lib/ has validated them already.
#pragma once
#include <napi.h>

#include <stdint.h>

namespace tapwire {

inline uint32_t UintOption(const Napi::Object& options, const char* key) { return options.Get(key).As<Napi::Number>().Uint32Value(); }

}  // namespace tapwire
