// Self-registration of addon modules and of the kernel variants they dispatch to.
//
// A module (one concept: ternary, dense, ops, attention, ...) is a generic .cc file that defines
//   static void Init(Napi::Env env, Napi::Object exports) { ... }
//   TERNION_MODULE(ternary, Init);
// and the addon's entry point calls every registered Init. Keeping the registration beside the module means
// adding a module touches no shared file (binding.gyp globs the sources).
#pragma once

#include <napi.h>

#include <vector>

#include "core/isa.h"

namespace ternion {

using ModuleInit = void (*)(Napi::Env env, Napi::Object exports);

struct ModuleRegistrar {
  ModuleRegistrar(const char* name, ModuleInit init);
};

struct RegisteredModule {
  const char* name;
  ModuleInit init;
};
const std::vector<RegisteredModule>& registered_modules();

// For kernelInfo(): which implementation a kernel runs at each ISA level. `variants[i]` names what runs when
// active_isa() == Isa(i), e.g. {"generic", "avx2", "avx2"} for a kernel with no AVX-512 variant.
struct KernelVariants {
  const char* kernel;
  const char* variants[kNumIsa];
};
struct KernelRegistrar {
  explicit KernelRegistrar(KernelVariants v);
};
const std::vector<KernelVariants>& registered_kernels();

}  // namespace ternion

#define TERNION_CONCAT_INNER(a, b) a##b
#define TERNION_CONCAT(a, b) TERNION_CONCAT_INNER(a, b)
#define TERNION_MODULE(name, init) static ::ternion::ModuleRegistrar TERNION_CONCAT(ternion_module_, name)(#name, init)
// TERNION_KERNEL(ternary_gemm, "generic", "avx2", "avx512-vnni");
#define TERNION_KERNEL(name, v0, v1, v2) \
  static ::ternion::KernelRegistrar TERNION_CONCAT(ternion_kernel_, name)({#name, {v0, v1, v2}})
