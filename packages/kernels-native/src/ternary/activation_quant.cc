// quantizeActivations: f32 rows -> int8 + per-group scales and sums (activation_quant.h). The scalar
// functions here are the reference (and the NaN fallback of the SIMD variants); the binding picks the
// variant per call.
#include "ternary/activation_quant.h"

#include <napi.h>

#include <cmath>
#include <string>

#include "core/isa.h"
#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"
#include "core/work.h"
#include "ternary/packed_layout.h"

namespace ternion {

void quantize_row_per_token_generic(const float* x /* (cols) */, int64_t cols, int64_t kp,
                                    int8_t* q /* (kp) */, float* scale, int32_t* sum) {
  double max = 0.00001;
  for (int64_t i = 0; i < cols; i++) {
    const double a = std::fabs(static_cast<double>(x[i]));
    max = max > a ? max : a;  // bitnet.cpp's MAX(max, a), NaN handling included
  }
  const float s = static_cast<float>(127 / max);
  int32_t acc = 0;
  for (int64_t i = 0; i < cols; i++) {
    int v = nearest_int(x[i] * s);
    if (v > 127) v = 127;
    if (v < -128) v = -128;
    acc += v;
    q[i] = static_cast<int8_t>(v);
  }
  for (int64_t i = cols; i < kp; i++) q[i] = 0;
  *scale = 1.f / s;
  *sum = acc;
}

void quantize_q8k_block_generic(const float* x, int64_t len, int8_t* q, float* d, int32_t* sum) {
  float max = 0, amax = 0;
  for (int64_t j = 0; j < len; j++) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  // Padding zeros never beat amax (ax > amax is false for them), so the ragged group matches the padded one.
  if (!amax) {
    for (int j = 0; j < kActBlock; j++) q[j] = 0;
    *d = 0;
    *sum = 0;
    return;
  }
  const float iscale = -127.f / max;
  int32_t acc = 0;
  for (int64_t j = 0; j < kActBlock; j++) {
    const int v0 = nearest_int(iscale * (j < len ? x[j] : 0.f));
    const int v = v0 < 127 ? v0 : 127;
    q[j] = static_cast<int8_t>(v);
    acc += v;
  }
  *d = 1 / iscale;
  *sum = acc;
}

void quantize_row_per_block_generic(const float* x /* (cols) */, int64_t cols, int64_t kp,
                                    int8_t* q /* (kp) */, float* d /* (kp / 256) */,
                                    int32_t* sums /* (kp / 256) */) {
  quantize_row_per_block_with(quantize_q8k_block_generic, x, cols, kp, q, d, sums);
}

namespace {

// Same signature for both modes: `scales` and `sums` are the row's groups (1 per token, kp / 256 per block).
using QuantRowFn = void (*)(const float*, int64_t, int64_t, int8_t*, float*, int32_t*);

QuantRowFn pick_row_fn(bool per_block) {
  return per_block ? TERNION_PICK(quantize_row_per_block) : TERNION_PICK(quantize_row_per_token);
}

// Rows per pool chunk: at least this many values. AVX-512: 8192 (32 KB of f32), so a 16-row decode batch
// (16 x 1536..4096) splits over both cores — measured in the 700m model's 16-row decode pass (step profiler,
// variants alternating in one process, medians of 6): quantization 0.68-1.91 ms per pass inline against
// 0.48-1.29 ms at 8192; 4096 was slower again (0.83 ms). The slower levels keep 65536 (256 KB), measured
// earlier: the scalar kernel split into small chunks was 1.4x slower than inline, because a preempted worker
// holds a chunk the caller must wait for, and that wait is longer than the work it saves.
constexpr int64_t kMinChunkValuesAvx512 = 8192;
constexpr int64_t kMinChunkValues = 65536;

// ternaryQuantize(x: Float32Array (rows, cols), rows, cols, colsPadded, mode (0 per-token, 1 per-block-256),
//                 q: Int8Array (>= rows * colsPadded),
//                 scales: Float32Array, sums: Int32Array (>= rows * groups))
Work PrepareQuantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t rows = int_arg(info, 1, "rows", 1, int64_t{1} << 24);
  const int64_t cols = int_arg(info, 2, "cols", 1, kMaxTernaryCols);
  const int64_t kp = int_arg(info, 3, "colsPadded", cols, kMaxTernaryCols + kActBlock);
  if (kp % kActBlock != 0) throw_range_error(env, "argument 3 (colsPadded): must be a multiple of 256");
  const bool per_block = int_arg(info, 4, "mode", 0, 1) == 1;
  const int64_t groups = per_block ? kp / kActBlock : 1;
  const float* x = f32_arg(info, 0, "x", checked_mul(env, rows, cols, "rows * cols")).data;
  int8_t* q = i8_arg(info, 5, "q", checked_mul(env, rows, kp, "rows * colsPadded")).data;
  float* scales = f32_arg(info, 6, "scales", static_cast<size_t>(rows * groups)).data;
  int32_t* sums = i32_arg(info, 7, "sums", static_cast<size_t>(rows * groups)).data;
  return [x, rows, cols, kp, per_block, groups, q, scales, sums] {
    const QuantRowFn fn = pick_row_fn(per_block);
    const int64_t min_values = active_isa() == Isa::kAvx512 ? kMinChunkValuesAvx512 : kMinChunkValues;
    const int64_t grain = cols >= min_values ? 1 : min_values / cols;
    ThreadPool::instance().parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; r++) {
        fn(x + r * cols, cols, kp, q + r * kp, scales + r * groups, sums + r * groups);
      }
    });
  };
}

void Init(Napi::Env env, Napi::Object exports) {
  export_kernel(env, exports, "ternaryQuantize", PrepareQuantize);
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(ternary_quantize, ternion::Init);
TERNION_KERNEL(ternary_quantize, "generic", "avx2", "avx512");
