#include "instance.h"

namespace tapwire {

void Instance::Create(Napi::Env env) { env.SetInstanceData(new Instance()); }

Instance& Instance::Of(Napi::Env env) { return *env.GetInstanceData<Instance>(); }

}  // namespace tapwire
