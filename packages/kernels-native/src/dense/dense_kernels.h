// Dense matmul kernels: Y (n, m) = X (n, k) · Wᵀ, W row-major (m rows of k). X and Y are f32.
//
// Every kernel computes the output columns j in [j0, j1) (weight rows) for all n rows of X, so a caller splits
// M over threads and each thread streams its own slice of W exactly once. One `_generic` scalar reference
// (matmul_generic.cc) and one variant per ISA (matmul_avx2.cc, matmul_avx512.cc) with the same signature.
//
// Float variants differ from the reference only in summation order (bounded by ~k·eps·Σ|w·x|); the int8
// kernel is bit-exact across variants (integer dot products, one identical float rescale).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ternion {

// GGUF Q8_0 (ggml-common.h block_q8_0): per 32 weights, an fp16 scale d then 32 int8 q; w = d · q.
constexpr int64_t kQ8_0BlockElems = 32;
constexpr int64_t kQ8_0BlockBytes = 34;
struct BlockQ8_0 {
  uint16_t d;  // IEEE half bits
  int8_t qs[kQ8_0BlockElems];
};
static_assert(sizeof(BlockQ8_0) == kQ8_0BlockBytes, "block_q8_0 is 34 bytes, packed (2-byte aligned)");

// Int8 row quantisation (absmax, symmetric): d = max|v| / 127, q = clamp(round_half_even(v / d), ±127)
// computed as v · (1/d) in float. Shared by the weight copy and the per-call activation quantisation.
constexpr float kI8Max = 127.0f;

#define TERNION_DENSE_DECLARE(isa)                                                                             \
  void matmul_f32_##isa(const float* w, const float* x, float* y, int64_t n, int64_t m, int64_t k, int64_t j0,  \
                        int64_t j1);                                                                           \
  void matmul_f16_##isa(const uint16_t* w, const float* x, float* y, int64_t n, int64_t m, int64_t k,          \
                        int64_t j0, int64_t j1);                                                               \
  void matmul_q8_0_##isa(const uint8_t* w, const float* x, float* y, int64_t n, int64_t m, int64_t k,          \
                         int64_t j0, int64_t j1);                                                              \
  /* xq (n, k) int8 activations, x_scales (n); w (m, k) int8, w_scales (m): y = isum · (w_scale · x_scale) */ \
  void matmul_i8_##isa(const int8_t* w, const float* w_scales, const int8_t* xq, const float* x_scales, float* y, \
                       int64_t n, int64_t m, int64_t k, int64_t j0, int64_t j1);

TERNION_DENSE_DECLARE(generic)
TERNION_DENSE_DECLARE(avx2)
TERNION_DENSE_DECLARE(avx512)
#undef TERNION_DENSE_DECLARE

// Quantises one row of k values (f32, or IEEE half bits widened exactly) to int8 and returns its scale d
// (0 for an all-zero row). NaN -> -127. The SIMD variants are bit-exact with the scalar one: max is exact,
// clamping to integer bounds commutes with rounding, and cvtps2dq rounds half to even like nearbyint.
#define TERNION_QUANTIZE_DECLARE(isa)                                               \
  float quantize_row_i8_f32_##isa(const float* v, int64_t k, int8_t* q);        \
  float quantize_row_i8_f16_##isa(const uint16_t* v, int64_t k, int8_t* q);

TERNION_QUANTIZE_DECLARE(generic)
TERNION_QUANTIZE_DECLARE(avx2)
TERNION_QUANTIZE_DECLARE(avx512)
#undef TERNION_QUANTIZE_DECLARE

}  // namespace ternion
