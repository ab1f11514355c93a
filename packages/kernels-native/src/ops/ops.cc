// N-API bindings and ISA dispatch for the float32 ops: rmsNorm, rope, softmax, siluMul, relu2Mul, add, scale.
// Rows (rmsNorm, softmax, rope tokens) or element ranges are split over the thread pool.
#include <napi.h>

#include <cmath>
#include <string>

#include "common/fp16.h"
#include "core/isa.h"
#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"
#include "core/work.h"
#include "ops/ops_kernels.h"

namespace ternion {
namespace {


constexpr int64_t kMaxDim = int64_t{1} << 31;
// Elements per task for streaming ops: ~64 KiB per array, enough to amortise waking a thread.
constexpr int64_t kElemGrain = 16384;
// rope keeps one row of (cos, sin) per token on the stack.
constexpr int64_t kMaxRopeDim = 4096;

// out may be the input itself (in place) or a separate buffer, never a shifted view of it.
void check_same_or_disjoint(Napi::Env env, const float* out, const float* in, int64_t count, const char* out_name,
                            const char* in_name) {
  if (out == in) return;
  if (out < in + count && in < out + count) {
    throw_range_error(env, std::string(out_name) + " must be " + in_name +
                               " itself (in place) or not overlap it; partial overlap is not supported");
  }
}

// rmsNorm(x (n, d), weight (d), n, d, eps, out (n, d))
Work PrepareRmsNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = int_arg(info, 2, "n", 1, kMaxDim);
  const int64_t d = int_arg(info, 3, "d", 1, kMaxDim);
  const double eps = number_arg(info, 4, "eps");
  if (eps < 0) throw_range_error(env, "argument 4 (eps): must be >= 0");
  const size_t nd = checked_mul(env, n, d, "n*d");
  const float* x = f32_arg(info, 0, "x", nd).data;
  const float* weight = f32_arg(info, 1, "weight", d).data;
  float* out = f32_arg(info, 5, "out", nd).data;
  check_same_or_disjoint(env, out, x, n * d, "out", "x");
  if (out < weight + d && weight < out + n * d) {
    throw_range_error(env, "argument 5 (out): must not overlap weight (every row reads all of it)");
  }
  const float eps_f = static_cast<float>(eps);
  return [x, weight, out, n, d, eps_f] {
    const auto fn = TERNION_PICK(rms_norm_row);
    const int64_t grain = d >= 1024 ? 1 : 8;
    ThreadPool::instance().parallel_for(n, grain, [&](int64_t i0, int64_t i1, int) {
      for (int64_t i = i0; i < i1; i++) fn(x + i * d, weight, out + i * d, d, eps_f);
    });
  };
}

// softmax(x (n, d), n, d): each row in place.
Work PrepareSoftmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = int_arg(info, 1, "n", 1, kMaxDim);
  const int64_t d = int_arg(info, 2, "d", 1, kMaxDim);
  float* x = f32_arg(info, 0, "x", checked_mul(env, n, d, "n*d")).data;
  return [x, n, d] {
    const auto fn = TERNION_PICK(softmax_row);
    ThreadPool::instance().parallel_for(n, d >= 1024 ? 1 : 8, [&](int64_t i0, int64_t i1, int) {
      for (int64_t i = i0; i < i1; i++) fn(x + i * d, d);
    });
  };
}

using BinaryFn = void (*)(const float*, const float*, float*, int64_t);

// `kernel` returns the variant for the active ISA level (TERNION_PICK), asked when the work runs.
Work prepare_binary(const Napi::CallbackInfo& info, const char* a_name, const char* b_name, BinaryFn (*kernel)()) {
  Napi::Env env = info.Env();
  const int64_t count = int_arg(info, 3, "count", 1, kMaxDim);
  const float* a = f32_arg(info, 0, a_name, count).data;
  const float* b = f32_arg(info, 1, b_name, count).data;
  float* out = f32_arg(info, 2, "out", count).data;
  check_same_or_disjoint(env, out, a, count, "out", a_name);
  check_same_or_disjoint(env, out, b, count, "out", b_name);
  return [a, b, out, count, kernel] {
    const BinaryFn fn = kernel();
    ThreadPool::instance().parallel_for(count, kElemGrain, [&](int64_t i0, int64_t i1, int) {
      fn(a + i0, b + i0, out + i0, i1 - i0);
    });
  };
}

// siluMul(gate, up, out, count): out = silu(gate) · up
Work PrepareSiluMul(const Napi::CallbackInfo& info) {
  return prepare_binary(info, "gate", "up", [] { return TERNION_PICK(silu_mul); });
}
// relu2Mul(gate, up, out, count): out = relu(gate)² · up
Work PrepareRelu2Mul(const Napi::CallbackInfo& info) {
  return prepare_binary(info, "gate", "up", [] { return TERNION_PICK(relu2_mul); });
}
// add(a, b, out, count): out = a + b
Work PrepareAdd(const Napi::CallbackInfo& info) {
  return prepare_binary(info, "a", "b", [] { return TERNION_PICK(add); });
}

// scale(x, s, count): x *= s in place
Work PrepareScale(const Napi::CallbackInfo& info) {
  const int64_t count = int_arg(info, 2, "count", 1, kMaxDim);
  float* x = f32_arg(info, 0, "x", count).data;
  const float s = static_cast<float>(number_arg(info, 1, "s"));
  return [x, s, count] {
    const auto fn = TERNION_PICK(scale);
    ThreadPool::instance().parallel_for(count, kElemGrain, [&](int64_t i0, int64_t i1, int) {
      fn(x + i0, s, i1 - i0);
    });
  };
}

// (cos, sin) of every rotated pair for one position: theta = pos * theta_scale^i, as ggml-cpu computes it.
void rope_row(float* row /* (ropeDim / 2) x (cos, sin) */, int64_t rope_dim, float theta_scale, int32_t pos) {
  float theta = static_cast<float>(pos);
  for (int64_t i0 = 0; i0 < rope_dim; i0 += 2) {
    row[i0] = std::cos(theta);
    row[i0 + 1] = std::sin(theta);
    theta *= theta_scale;
  }
}

// Rotary position embedding (Su et al. 2021, RoFormer), computed like ggml-cpu's rope: theta_scale =
// powf(base, -2/ropeDim), theta starts at the position and is multiplied by theta_scale per pair, cosf/sinf
// per pair once per token (shared by all heads). Normal mode rotates (2i, 2i+1), NeoX (i, i + ropeDim/2);
// dimensions past ropeDim are left as they are.
// `cache` is the token's (cos, sin) row (rope_row).
void rope_token(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, const float* cache, bool neox) {
  const int64_t half = rope_dim / 2;
  for (int64_t h = 0; h < n_heads; h++) {
    float* head = x + h * head_dim;  // (headDim)
    for (int64_t i0 = 0; i0 < rope_dim; i0 += 2) {
      const float cos_t = cache[i0], sin_t = cache[i0 + 1];
      float* a = neox ? head + i0 / 2 : head + i0;
      float* b = neox ? a + half : a + 1;
      const float x0 = *a, x1 = *b;
      *a = x0 * cos_t - x1 * sin_t;
      *b = x0 * sin_t + x1 * cos_t;
    }
  }
}

// Shared by rope and ropeTable: n, ropeDim (argument `dim_at`, even, <= max_dim), freqBase (dim_at + 1), and
// theta_scale = powf(base, -2/ropeDim).
struct RopeShape {
  int64_t n, rope_dim;
  float theta_scale;
};
RopeShape rope_shape(const Napi::CallbackInfo& info, size_t n_at, size_t dim_at, int64_t max_dim) {
  Napi::Env env = info.Env();
  RopeShape r{};
  r.n = int_arg(info, n_at, "n", 1, kMaxDim);
  r.rope_dim = int_arg(info, dim_at, "ropeDim", 2, kMaxRopeDim);
  if (r.rope_dim % 2 != 0 || r.rope_dim > max_dim) {
    throw_range_error(env, "argument " + std::to_string(dim_at) + " (ropeDim): must be even and <= " +
                               std::to_string(max_dim) + ", got " + std::to_string(r.rope_dim));
  }
  const double freq_base = number_arg(info, dim_at + 1, "freqBase");
  if (!(freq_base > 0)) throw_range_error(env, "argument " + std::to_string(dim_at + 1) + " (freqBase): must be > 0");
  r.theta_scale = std::pow(static_cast<float>(freq_base), -2.0f / static_cast<float>(r.rope_dim));
  return r;
}

// ropeTable(positions (n), n, ropeDim, freqBase, table (n, ropeDim)): the (cos, sin) row of each position, for
// every rope of a forward pass to share (q and k of each layer rotate by the same positions).
Work PrepareRopeTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RopeShape r = rope_shape(info, 1, 2, kMaxRopeDim);
  const int32_t* positions = i32_arg(info, 0, "positions", r.n).data;
  float* table = f32_arg(info, 4, "table", checked_mul(env, r.n, r.rope_dim, "n*ropeDim")).data;
  return [positions, table, r] {
    ThreadPool::instance().parallel_for(r.n, 8, [&](int64_t i0, int64_t i1, int) {
      // positions are read now: a replayed Program follows this step's positions
      for (int64_t i = i0; i < i1; i++) rope_row(table + i * r.rope_dim, r.rope_dim, r.theta_scale, positions[i]);
    });
  };
}

// rope(x (n, nHeads, headDim), positions (n), n, nHeads, headDim, ropeDim, freqBase, neox, table?): x in place;
// with `table` (ropeTable's rows for these positions, n, ropeDim and freqBase) the rows are read, not computed.
Work PrepareRope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n_heads = int_arg(info, 3, "nHeads", 1, kMaxDim);
  const int64_t head_dim = int_arg(info, 4, "headDim", 1, kMaxDim);
  const RopeShape r = rope_shape(info, 2, 5, head_dim);
  if (!info[7].IsBoolean()) throw_type_error(env, "argument 7 (neox): expected a boolean");
  const bool neox = info[7].As<Napi::Boolean>().Value();
  const size_t row = checked_mul(env, n_heads, head_dim, "nHeads*headDim");
  float* x = f32_arg(info, 0, "x", checked_mul(env, r.n, row, "n*nHeads*headDim")).data;
  const int32_t* positions = i32_arg(info, 1, "positions", r.n).data;
  const float* table = info.Length() > 8 && !info[8].IsUndefined()
                           ? f32_arg(info, 8, "table", checked_mul(env, r.n, r.rope_dim, "n*ropeDim")).data
                           : nullptr;
  return [x, positions, table, r, n_heads, head_dim, neox] {
    ThreadPool::instance().parallel_for(r.n, 1, [&](int64_t i0, int64_t i1, int) {
      float own[kMaxRopeDim];  // (ropeDim / 2) × (cos, sin) without a table
      for (int64_t i = i0; i < i1; i++) {
        const float* cache = own;
        if (table != nullptr) {
          cache = table + i * r.rope_dim;
        } else {
          // positions are read now: a replayed Program rotates by this step's positions
          rope_row(own, r.rope_dim, r.theta_scale, positions[i]);
        }
        rope_token(x + i * n_heads * head_dim, n_heads, head_dim, r.rope_dim, cache, neox);
      }
    });
  };
}

// logitsStats(x: Float32Array (>= offset + d), offset, d, out: Float64Array (3), withLogSumExp): out = argmax,
// max, log Σ exp over x[offset .. offset + d) (NaN without withLogSumExp). One row per token: no thread pool.
Work PrepareLogitsStats(const Napi::CallbackInfo& info) {
  const int64_t offset = int_arg(info, 1, "offset", 0, int64_t{1} << 40);
  const int64_t d = int_arg(info, 2, "d", 1, kMaxDim);
  const float* x = f32_arg(info, 0, "x", static_cast<size_t>(offset + d)).data + offset;
  double* out = f64_arg(info, 3, "out", 3).data;
  const bool with_lse = bool_arg(info, 4, "withLogSumExp", true);
  return [x, d, with_lse, out] { TERNION_PICK(logits_stats)(x, d, with_lse, out); };
}

// roundToF16(x: Float32Array, count): x = f32(f16(x)) in place.
Work PrepareRoundToF16(const Napi::CallbackInfo& info) {
  const int64_t count = int_arg(info, 1, "count", 1, kMaxDim);
  float* x = f32_arg(info, 0, "x", static_cast<size_t>(count)).data;
  return [x, count] {
    for (int64_t i = 0; i < count; i++) x[i] = fp16_to_f32(f32_to_fp16(x[i]));
  };
}

void Init(Napi::Env env, Napi::Object exports) {
  export_kernel(env, exports, "logitsStats", PrepareLogitsStats);
  export_kernel(env, exports, "roundToF16", PrepareRoundToF16);
  export_kernel(env, exports, "rmsNorm", PrepareRmsNorm);
  export_kernel(env, exports, "softmax", PrepareSoftmax);
  export_kernel(env, exports, "siluMul", PrepareSiluMul);
  export_kernel(env, exports, "relu2Mul", PrepareRelu2Mul);
  export_kernel(env, exports, "add", PrepareAdd);
  export_kernel(env, exports, "scale", PrepareScale);
  export_kernel(env, exports, "rope", PrepareRope);
  export_kernel(env, exports, "ropeTable", PrepareRopeTable);
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(ops, ternion::Init);
TERNION_KERNEL(rms_norm, "generic", "avx2", "avx512");
TERNION_KERNEL(softmax, "generic", "avx2", "avx512");
TERNION_KERNEL(logits_stats, "generic", "generic", "avx512");
TERNION_KERNEL(silu_mul, "generic", "avx2", "avx512");
TERNION_KERNEL(relu2_mul, "generic", "avx2", "avx512");
TERNION_KERNEL(add, "generic", "avx2", "avx512");
TERNION_KERNEL(scale, "generic", "avx2", "avx512");
TERNION_KERNEL(rope, "generic", "generic", "generic");
