// The addon's entry point: runtime facts (CPU features, chosen kernels, threads) and every registered module.
#include <napi.h>

#include <string>

#include "core/isa.h"
#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"

namespace ternion {
namespace {

Napi::Value CpuFeaturesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuFeatures& f = cpu_features();
  Napi::Object o = Napi::Object::New(env);
#if defined(__x86_64__) || defined(_M_X64)
  o.Set("arch", "x64");
#elif defined(__aarch64__) || defined(_M_ARM64)
  o.Set("arch", "arm64");
#else
  o.Set("arch", "other");
#endif
  o.Set("sse42", f.sse42);
  o.Set("avx", f.avx);
  o.Set("avx2", f.avx2);
  o.Set("fma", f.fma);
  o.Set("f16c", f.f16c);
  o.Set("bmi2", f.bmi2);
  o.Set("avx512f", f.avx512f);
  o.Set("avx512bw", f.avx512bw);
  o.Set("avx512vl", f.avx512vl);
  o.Set("avx512dq", f.avx512dq);
  o.Set("avx512vnni", f.avx512vnni);
  o.Set("avx512vbmi", f.avx512vbmi);
  o.Set("avxvnni", f.avxvnni);
  o.Set("osYmm", f.os_ymm);
  o.Set("osZmm", f.os_zmm);
  o.Set("physicalCores", physical_cores());
  return o;
}

Napi::Value KernelInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  const Isa active = active_isa();
  o.Set("isa", isa_name(active));
  o.Set("bestIsa", isa_name(best_isa()));
  o.Set("threads", ThreadPool::instance().threads());
  Napi::Object kernels = Napi::Object::New(env);
  for (const KernelVariants& k : registered_kernels()) kernels.Set(k.kernel, k.variants[static_cast<int>(active)]);
  o.Set("kernels", kernels);
  Napi::Array supported = Napi::Array::New(env);
  for (int i = 0; i <= static_cast<int>(best_isa()); i++) supported.Set(i, isa_name(static_cast<Isa>(i)));
  o.Set("supportedIsas", supported);
  return o;
}

Napi::Value SetThreadsJs(const Napi::CallbackInfo& info) {
  const int64_t n = int_arg(info, 0, "threads", 1, 256);
  ThreadPool::instance().set_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value GetThreadsJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ThreadPool::instance().threads());
}

Napi::Value SetIsaJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw_type_error(env, "argument 0 (isa): expected 'generic', 'avx2' or 'avx512'");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  Isa isa;
  if (!parse_isa(name.c_str(), &isa)) {
    throw_type_error(env, "argument 0 (isa): '" + name + "' is not one of 'generic', 'avx2', 'avx512'");
  }
  if (!set_active_isa(isa)) {
    throw_range_error(env, std::string("argument 0 (isa): this CPU supports up to '") + isa_name(best_isa()) +
                               "', not '" + name + "'");
  }
  return info.Env().Undefined();
}

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeaturesJs, "cpuFeatures"));
  exports.Set("kernelInfo", Napi::Function::New(env, KernelInfoJs, "kernelInfo"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreadsJs, "setThreads"));
  exports.Set("getThreads", Napi::Function::New(env, GetThreadsJs, "getThreads"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsaJs, "setIsa"));
  for (const RegisteredModule& m : registered_modules()) m.init(env, exports);
  return exports;
}

}  // namespace
}  // namespace ternion

static Napi::Object InitTernion(Napi::Env env, Napi::Object exports) { return ternion::InitAddon(env, exports); }
NODE_API_MODULE(ternion_kernels, InitTernion)
