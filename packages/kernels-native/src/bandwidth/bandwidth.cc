#include "bandwidth/bandwidth.h"

#include <napi.h>

#include <chrono>
#include <cstring>

#include "core/isa.h"
#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"

namespace ternion {

uint64_t read_fold_generic(const uint8_t* p, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i < n; i += 32) {
    uint64_t w[4];
    std::memcpy(w, p + i, 32);
    a ^= w[0];
    b ^= w[1];
    c ^= w[2];
    d ^= w[3];
  }
  return a ^ b ^ c ^ d;
}

namespace {

using FoldFn = uint64_t (*)(const uint8_t*, size_t);

FoldFn pick_fold() { return TERNION_PICK(read_fold); }

// readBandwidth(buffer, passes) -> { seconds: number[], checksum } : each pass reads the whole buffer with
// every pool thread (contiguous 4 KiB-aligned slices) and is timed on its own.
Napi::Value ReadBandwidthJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ByteView buf = bytes_arg(info, 0, "buffer", 4096);
  const int64_t passes = int_arg(info, 1, "passes", 1, 1000);
  const size_t n = buf.bytes & ~static_cast<size_t>(4095);
  const FoldFn fold = pick_fold();
  ThreadPool& pool = ThreadPool::instance();
  uint64_t partial[256] = {0};
  uint64_t checksum = 0;
  Napi::Array seconds = Napi::Array::New(env, static_cast<size_t>(passes));
  for (int64_t pass = 0; pass < passes; pass++) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(static_cast<int64_t>(n / 4096), 1, [&](int64_t b, int64_t e, int w) {
      partial[w] ^= fold(buf.data + b * 4096, static_cast<size_t>(e - b) * 4096);
    });
    const auto t1 = std::chrono::steady_clock::now();
    seconds.Set(static_cast<uint32_t>(pass), std::chrono::duration<double>(t1 - t0).count());
  }
  for (uint64_t x : partial) checksum ^= x;
  Napi::Object out = Napi::Object::New(env);
  out.Set("seconds", seconds);
  out.Set("bytes", static_cast<double>(n));
  out.Set("checksum", static_cast<double>(checksum & 0xffffffffu));
  return out;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("readBandwidth", Napi::Function::New(env, ReadBandwidthJs, "readBandwidth"));
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(bandwidth, ternion::Init);
TERNION_KERNEL(read_fold, "generic", "avx2", "avx512");
