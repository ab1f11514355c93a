// Elementwise and normalisation kernels (float32). One `_generic` scalar reference per kernel
// (ops_generic.cc) and AVX2 / AVX-512 variants with the same signatures (ops_avx2.cc, ops_avx512.cc).
//
// add, scale, relu2_mul: bit-exact across variants (one IEEE operation per step, same order).
// rms_norm: sum of squares in double (as ggml_compute_forward_rms_norm_f32), variants differ only in the
//   double summation order (results equal or 1 ulp apart).
// softmax, silu_mul: the SIMD variants use a polynomial exp (Cephes expf coefficients, ≤ 2 ulp) instead of
//   libm expf, so they agree with the reference to a few ulp (tests use 4e-6 relative).
// logits_stats: argmax and max exact on every variant; log Σ exp(x − max) summed in double, the SIMD
//   variants with the polynomial exp (agree with the reference to ~1e-7 relative).
// Every kernel allows out == input (in place); partial overlap is not supported.
#pragma once

#include <cstdint>

namespace ternion {

#define TERNION_OPS_DECLARE(isa)                                                                 \
  /* out (d) = x (d) / sqrt(mean(x²) + eps) * weight (d) */                                      \
  void rms_norm_row_##isa(const float* x, const float* weight, float* out, int64_t d, float eps); \
  /* x (d) = softmax(x), in place */                                                             \
  void softmax_row_##isa(float* x, int64_t d);                                                   \
  void silu_mul_##isa(const float* gate, const float* up, float* out, int64_t count);           \
  void relu2_mul_##isa(const float* gate, const float* up, float* out, int64_t count);          \
  void add_##isa(const float* a, const float* b, float* out, int64_t count);                    \
  void scale_##isa(float* x, float s, int64_t count);                                           \
  /* out (3) = index of the first largest x (NaN ignored; 0 if none), that value, log Σ exp(x) (NaN unless with_lse) */ \
  void logits_stats_##isa(const float* x, int64_t d, bool with_lse, double* out);

TERNION_OPS_DECLARE(generic)
TERNION_OPS_DECLARE(avx2)
TERNION_OPS_DECLARE(avx512)
#undef TERNION_OPS_DECLARE

}  // namespace ternion
