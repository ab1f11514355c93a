// N-API bindings and ISA dispatch for the dense matmuls (F32, F16, Q8_0, int8) and the int8 weight copy.
//
// Y (n, m) = X (n, k) · Wᵀ. Threads split M (weight rows): every thread streams its own contiguous slice of
// W once and reuses it across all n rows of X, which is what decode (n = 1, bandwidth-bound) and prefill
// (n up to 512, weight reuse) both want.
#include <napi.h>

#include <string>

#include "core/isa.h"
#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"
#include "core/work.h"
#include "dense/dense_kernels.h"

namespace ternion {
namespace {

using MatmulF32Fn = decltype(&matmul_f32_generic);
using MatmulF16Fn = decltype(&matmul_f16_generic);
using MatmulQ8Fn = decltype(&matmul_q8_0_generic);
using MatmulI8Fn = decltype(&matmul_i8_generic);
using QuantizeF32Fn = decltype(&quantize_row_i8_f32_generic);
using QuantizeF16Fn = decltype(&quantize_row_i8_f16_generic);


// Weight rows per task: a multiple of every kernel's row tile, and enough work to amortise a wake-up.
constexpr int64_t kRowGrain = 16;
constexpr int64_t kMaxDim = int64_t{1} << 31;
// Integer dot products of int8 values in [-127, 127] stay inside int32 for k <= 2^17.
constexpr int64_t kMaxI8K = int64_t{1} << 17;

struct Dims {
  int64_t n, m, k;
};

Dims dims_args(const Napi::CallbackInfo& info, size_t first) {
  return {int_arg(info, first, "n", 1, kMaxDim), int_arg(info, first + 1, "m", 1, kMaxDim),
          int_arg(info, first + 2, "k", 1, kMaxDim)};
}

void check_disjoint(Napi::Env env, const void* a, size_t a_bytes, const char* a_name, const void* b, size_t b_bytes,
                    const char* b_name) {
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  if (pa < pb + b_bytes && pb < pa + a_bytes) {
    throw_range_error(env, std::string(a_name) + " must not overlap " + b_name + " (write Y to its own buffer)");
  }
}

template <typename Kernel>
void split_rows(int64_t m, Kernel kernel) {
  ThreadPool::instance().parallel_for(m, kRowGrain, [&](int64_t j0, int64_t j1, int) { kernel(j0, j1); });
}

// matmulF32(w (m, k), x (n, k), n, m, k, y (n, m))
Work PrepareMatmulF32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Dims d = dims_args(info, 2);
  const auto w = f32_arg(info, 0, "w", checked_mul(env, d.m, d.k, "m*k"));
  const auto x = f32_arg(info, 1, "x", checked_mul(env, d.n, d.k, "n*k"));
  const auto y = f32_arg(info, 5, "y", checked_mul(env, d.n, d.m, "n*m"));
  check_disjoint(env, y.data, d.n * d.m * 4, "y", x.data, d.n * d.k * 4, "x");
  check_disjoint(env, y.data, d.n * d.m * 4, "y", w.data, d.m * d.k * 4, "w");
  return [w = w.data, x = x.data, y = y.data, d] {
    const MatmulF32Fn fn = TERNION_PICK(matmul_f32);
    split_rows(d.m, [&](int64_t j0, int64_t j1) { fn(w, x, y, d.n, d.m, d.k, j0, j1); });
  };
}

// matmulF16(w (m, k) half bits, x (n, k), n, m, k, y (n, m))
Work PrepareMatmulF16(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Dims d = dims_args(info, 2);
  const auto w = u16_arg(info, 0, "w", checked_mul(env, d.m, d.k, "m*k"));
  const auto x = f32_arg(info, 1, "x", checked_mul(env, d.n, d.k, "n*k"));
  const auto y = f32_arg(info, 5, "y", checked_mul(env, d.n, d.m, "n*m"));
  check_disjoint(env, y.data, d.n * d.m * 4, "y", x.data, d.n * d.k * 4, "x");
  check_disjoint(env, y.data, d.n * d.m * 4, "y", w.data, d.m * d.k * 2, "w");
  return [w = w.data, x = x.data, y = y.data, d] {
    // Decode (a few rows) is bandwidth-bound, and the AVX2 (F16C) GEMV streams the weights faster than the
    // AVX-512 one on the CPUs we measured (Zen 5, 2 threads: 29.4 vs 21.9 GB/s on the 656 MB 2B-4T output
    // matrix); the AVX-512 register tiles win once rows are reused (n >= 4: 1.5-2x the AVX2 kernel at n = 4..7).
    MatmulF16Fn fn = TERNION_PICK(matmul_f16);
#ifdef TERNION_X86
    if (d.n < 4 && fn == matmul_f16_avx512) fn = matmul_f16_avx2;
#endif
    split_rows(d.m, [&](int64_t j0, int64_t j1) { fn(w, x, y, d.n, d.m, d.k, j0, j1); });
  };
}

// matmulQ8_0(w (m, k/32 blocks of 34 bytes), x (n, k), n, m, k, y (n, m))
Work PrepareMatmulQ8_0(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Dims d = dims_args(info, 2);
  if (d.k % kQ8_0BlockElems != 0) {
    throw_range_error(env, "argument 4 (k): Q8_0 needs a multiple of 32, got " + std::to_string(d.k));
  }
  const size_t w_bytes = checked_mul(env, d.m, d.k / kQ8_0BlockElems * kQ8_0BlockBytes, "m*k/32*34");
  const auto w = u8_arg(info, 0, "w", w_bytes);
  const auto x = f32_arg(info, 1, "x", checked_mul(env, d.n, d.k, "n*k"));
  const auto y = f32_arg(info, 5, "y", checked_mul(env, d.n, d.m, "n*m"));
  check_disjoint(env, y.data, d.n * d.m * 4, "y", x.data, d.n * d.k * 4, "x");
  check_disjoint(env, y.data, d.n * d.m * 4, "y", w.data, w_bytes, "w");
  return [w = w.data, x = x.data, y = y.data, d] {
    const MatmulQ8Fn fn = TERNION_PICK(matmul_q8_0);
    split_rows(d.m, [&](int64_t j0, int64_t j1) { fn(w, x, y, d.n, d.m, d.k, j0, j1); });
  };
}

// Scratch for matmulI8: n·k int8 activations, then (4-byte aligned) n float scales.
size_t i8_scratch_bytes(int64_t n, int64_t k) { return static_cast<size_t>(n * k + 4 * n + 3); }

// matmulI8(w (m, k) int8, wScales (m), x (n, k), n, m, k, y (n, m), scratch (i8ScratchBytes(n, k)))
Work PrepareMatmulI8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = int_arg(info, 3, "n", 1, kMaxDim);
  const int64_t m = int_arg(info, 4, "m", 1, kMaxDim);
  const int64_t k = int_arg(info, 5, "k", 1, kMaxI8K);
  const auto w = i8_arg(info, 0, "w", checked_mul(env, m, k, "m*k"));
  const auto w_scales = f32_arg(info, 1, "wScales", m);
  const auto x = f32_arg(info, 2, "x", checked_mul(env, n, k, "n*k"));
  const auto y = f32_arg(info, 6, "y", checked_mul(env, n, m, "n*m"));
  const auto scratch = i8_arg(info, 7, "scratch", i8_scratch_bytes(n, k));
  check_disjoint(env, y.data, n * m * 4, "y", x.data, n * k * 4, "x");
  check_disjoint(env, scratch.data, scratch.length, "scratch", x.data, n * k * 4, "x");
  check_disjoint(env, scratch.data, scratch.length, "scratch", y.data, n * m * 4, "y");
  const Dims d{n, m, k};
  return [w = w.data, ws = w_scales.data, x = x.data, y = y.data, xq = scratch.data, d] {
    // Activation scales live after the int8 rows, rounded up to a 4-byte address.
    const uintptr_t end = reinterpret_cast<uintptr_t>(xq + d.n * d.k);
    float* x_scales = reinterpret_cast<float*>((end + 3) & ~uintptr_t{3});  // (n)
    const QuantizeF32Fn quantize = TERNION_PICK(quantize_row_i8_f32);
    // On the calling thread: n·k is tiny next to m·k (< 1% of the work), so one fork/join per call, not two.
    for (int64_t i = 0; i < d.n; i++) x_scales[i] = quantize(x + i * d.k, d.k, xq + i * d.k);
    const MatmulI8Fn fn = TERNION_PICK(matmul_i8);
    split_rows(d.m, [&](int64_t j0, int64_t j1) { fn(w, ws, xq, x_scales, y, d.n, d.m, d.k, j0, j1); });
  };
}

Napi::Value I8ScratchBytesJs(const Napi::CallbackInfo& info) {
  const int64_t n = int_arg(info, 0, "n", 1, kMaxDim);
  const int64_t k = int_arg(info, 1, "k", 1, kMaxI8K);
  checked_mul(info.Env(), n, k, "n*k");
  return Napi::Number::New(info.Env(), static_cast<double>(i8_scratch_bytes(n, k)));
}

// quantizeRowsI8(w (m, k) f32 or f16 bits, kind, m, k, out (m, k) int8, scales (m))
Work PrepareQuantizeRowsI8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[1].IsString()) throw_type_error(env, "argument 1 (kind): expected 'f32' or 'f16'");
  const std::string kind = info[1].As<Napi::String>().Utf8Value();
  if (kind != "f32" && kind != "f16") throw_range_error(env, "argument 1 (kind): expected 'f32' or 'f16', got '" + kind + "'");
  const int64_t m = int_arg(info, 2, "m", 1, kMaxDim);
  const int64_t k = int_arg(info, 3, "k", 1, kMaxI8K);
  const size_t mk = checked_mul(env, m, k, "m*k");
  const void* src = kind == "f32" ? static_cast<const void*>(f32_arg(info, 0, "w", mk).data)
                                  : static_cast<const void*>(u16_arg(info, 0, "w", mk).data);
  const auto out = i8_arg(info, 4, "out", mk);
  const auto scales = f32_arg(info, 5, "scales", m);
  const bool f16 = kind == "f16";
  return [src, f16, m, k, out = out.data, scales = scales.data] {
    const QuantizeF32Fn from_f32 = TERNION_PICK(quantize_row_i8_f32);
    const QuantizeF16Fn from_f16 = TERNION_PICK(quantize_row_i8_f16);
    ThreadPool::instance().parallel_for(m, 64, [&](int64_t j0, int64_t j1, int) {
      for (int64_t j = j0; j < j1; j++) {
        scales[j] = f16 ? from_f16(static_cast<const uint16_t*>(src) + j * k, k, out + j * k)
                        : from_f32(static_cast<const float*>(src) + j * k, k, out + j * k);
      }
    });
  };
}

void Init(Napi::Env env, Napi::Object exports) {
  export_kernel(env, exports, "matmulF32", PrepareMatmulF32);
  export_kernel(env, exports, "matmulF16", PrepareMatmulF16);
  export_kernel(env, exports, "matmulQ8_0", PrepareMatmulQ8_0);
  export_kernel(env, exports, "matmulI8", PrepareMatmulI8);
  export_kernel(env, exports, "quantizeRowsI8", PrepareQuantizeRowsI8);
  exports.Set("matmulI8ScratchBytes", Napi::Function::New(env, I8ScratchBytesJs, "matmulI8ScratchBytes"));
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(dense, ternion::Init);
TERNION_KERNEL(matmul_f32, "generic", "avx2-fma", "avx512");
TERNION_KERNEL(matmul_f16, "generic", "avx2-f16c", "avx512 (n >= 4), avx2-f16c (n < 4)");
TERNION_KERNEL(matmul_q8_0, "generic", "avx2-fma", "avx512");
TERNION_KERNEL(matmul_i8, "generic", "avx2-maddubs", "avx512-vnni");
TERNION_KERNEL(quantize_rows_i8, "generic", "avx2", "avx512");
