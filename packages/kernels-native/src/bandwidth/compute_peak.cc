#include "bandwidth/compute_peak.h"

#include <napi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "core/isa.h"
#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"

namespace ternion {

int64_t int8_dot_loop_generic(int64_t iters, int64_t* macs) {
  int32_t acc[12];
  volatile int32_t u = 3, s = -5;  // volatile: a loop of constants would be folded away
  for (int i = 0; i < 12; i++) acc[i] = i;
  for (int64_t it = 0; it < iters; it++) {
    const int32_t a = u, b = s;
    for (int i = 0; i < 12; i++) acc[i] += a * b;
  }
  int64_t r = 0;
  for (int32_t x : acc) r += x;
  *macs = iters * 12;
  return r;
}

double f32_fma_loop_generic(int64_t iters, int64_t* fmas) {
  float acc[12];
  volatile float va = 0.999f, vb = 1e-3f;
  for (int i = 0; i < 12; i++) acc[i] = static_cast<float>(i);
  for (int64_t it = 0; it < iters; it++) {
    const float a = va, b = vb;
    for (int i = 0; i < 12; i++) acc[i] = acc[i] * a + b;
  }
  double r = 0;
  for (float x : acc) r += x;
  *fmas = iters * 12;
  return r;
}

namespace {

using IntLoop = int64_t (*)(int64_t, int64_t*);
using FloatLoop = double (*)(int64_t, int64_t*);

// Runs `loop(iters)` on every pool thread at once (one chunk each) and returns operations per second of the
// median of `passes` timed passes; `iters` is first grown until one thread's pass takes >= 5 ms.
template <typename Loop>
double rate_all_threads(Loop loop, int passes) {
  int64_t ops = 0;
  int64_t iters = 1 << 12;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    loop(iters, &ops);
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >= 5e-3 || iters >= (1LL << 32)) {
      break;
    }
    iters *= 2;
  }
  ThreadPool& pool = ThreadPool::instance();
  const int threads = pool.threads();
  std::vector<double> rates;
  std::atomic<int64_t> sink{0};
  for (int p = 0; p < passes; p++) {
    std::atomic<int64_t> total{0};
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(threads, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; i++) {
        int64_t n = 0;
        sink.fetch_add(static_cast<int64_t>(loop(iters, &n)), std::memory_order_relaxed);
        total.fetch_add(n, std::memory_order_relaxed);
      }
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(static_cast<double>(total.load()) / s);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

// computePeak(passes) -> { int8MacsPerSecond, f32FmasPerSecond, threads }
Napi::Value ComputePeakJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int passes = static_cast<int>(int_arg(info, 0, "passes", 1, 100));
  const IntLoop int8_loop = TERNION_PICK(int8_dot_loop);
  const FloatLoop fma_loop = TERNION_PICK(f32_fma_loop);
  Napi::Object out = Napi::Object::New(env);
  out.Set("int8MacsPerSecond", rate_all_threads(int8_loop, passes));
  out.Set("f32FmasPerSecond", rate_all_threads(fma_loop, passes));
  out.Set("threads", ThreadPool::instance().threads());
  return out;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("computePeak", Napi::Function::New(env, ComputePeakJs, "computePeak"));
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(compute_peak, ternion::Init);
TERNION_KERNEL(int8_dot_loop, "generic", "avx2-maddubs", "avx512-vnni");
