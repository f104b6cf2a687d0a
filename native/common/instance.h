// What one instance of the addon shares among its sources. Node loads the addon once
// per environment (the main thread and each worker), and each environment gets its own
// Instance as N-API instance data, freed when that environment goes: nothing here is a
// process global, so any number of workers can capture at once and end at any time.
#pragma once
#include <napi.h>

#include <memory>

#include "batch.h"

namespace tapwire {

struct Instance {
  // Not make_shared: its type-info check needs GLIBCXX_3.4.26 from GCC 10's libstdc++,
  // above the floor the prebuilt addon keeps to (Node 20's own, GLIBCXX_3.4.21).
  std::shared_ptr<BufferPool> buffers{new BufferPool()};

  // Called once by the addon's Init for its environment.
  static void Create(Napi::Env env);
  static Instance& Of(Napi::Env env);
};

}  // namespace tapwire
