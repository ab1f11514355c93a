#include "core/registry.h"

namespace ternion {
namespace {
// Function-local statics: registrars run during static initialisation in any order.
std::vector<RegisteredModule>& modules() {
  static std::vector<RegisteredModule> m;
  return m;
}
std::vector<KernelVariants>& kernels() {
  static std::vector<KernelVariants> k;
  return k;
}
}  // namespace

ModuleRegistrar::ModuleRegistrar(const char* name, ModuleInit init) { modules().push_back({name, init}); }
const std::vector<RegisteredModule>& registered_modules() { return modules(); }

KernelRegistrar::KernelRegistrar(KernelVariants v) { kernels().push_back(v); }
const std::vector<KernelVariants>& registered_kernels() { return kernels(); }

}  // namespace ternion
