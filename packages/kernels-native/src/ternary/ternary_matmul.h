// Ternary GEMM: Y[n][m] = sum_k W[m][k] * X[n][k] with W in the packed layout (packed_layout.h) and X quantized
// to int8 (activation_quant.h). Codes are w + 1, so the kernels compute sum_k code*q and subtract the group's
// sum_k q (a.sums): sum (w+1) q - sum q = sum w q, exact in int32.
//
// The float formulas below are the single definition every variant uses (generic, AVX2, AVX-512 lanes do the
// same IEEE operations in the same order, and -ffp-contract=off forbids FMA contraction), so the outputs are
// bit-identical across ISAs.
#pragma once

#include <cstdint>

namespace ternion {

struct TernaryGemm {
  const uint8_t* w;         // (M, Kp / 4) packed codes
  const float* w_scales;    // (M)
  const int8_t* q;          // (N, Kp) quantized activations, zero padded
  const float* a_scales;    // (N, groups) dequantisation multipliers
  const int32_t* a_sums;    // (N, groups) sum of q per group
  float* y;                 // (N, M)
  int64_t M, Kp, N;
  bool per_block;           // groups = Kp / 256 (true) or 1 (false)
};

// per-token: y = (float)isum * (a_scale * w_scale)
static inline float ternary_out_per_token(int32_t isum, float a_scale, float w_scale) {
  return static_cast<float>(isum) * (a_scale * w_scale);
}
// per-block-256: acc starts at 0.f, acc = acc + (float)isum_b * a_scale_b in block order, y = acc * w_scale
static inline float ternary_block_step(float acc, int32_t isum_b, float a_scale_b) {
  return acc + static_cast<float>(isum_b) * a_scale_b;
}
static inline float ternary_out_per_block(float acc, float w_scale) { return acc * w_scale; }

// Each computes rows [m0, m1) of W for every n in [0, N).
void ternary_gemm_generic(const TernaryGemm& g, int64_t m0, int64_t m1);
void ternary_gemm_avx2(const TernaryGemm& g, int64_t m0, int64_t m1);
void ternary_gemm_avx512(const TernaryGemm& g, int64_t m0, int64_t m1);

}  // namespace ternion
