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
  // (ceil(N / 16), Kp / 4, 16, 4): q interleaved for ternary_gemm_outer_avx512 — dword (tile, kq, t) holds
  // q[16 * tile + t][4kq .. 4kq + 3], tokens past N zero. Null unless that kernel runs.
  const int8_t* q_tiles = nullptr;
  // llama.cpp's float order (mode 2, per-block activations): see ternary_gemm_llamacpp_*. q_sums32 is
  // (N, Kp / 256, 8): the sum of q over each 32-value run of a block, built by the dispatcher.
  bool llamacpp = false;
  const int32_t* q_sums32 = nullptr;
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

// llama.cpp's ggml_vec_dot_tq2_0_q8_K / _tq1_0_q8_K float order (its AVX2 kernels, which its x86 CPU builds
// run), for comparisons that must not differ in the last bit: per 256-block, 8 int32 lanes, lane l holding
// Σ code·q over the k with k mod 32 in [4l, 4l + 4) minus the q sums of the block's 32-value runs 2l and
// 2l + 1 (its bsums); sumf[l] = fma((float)lane_l, a_scale_b * w_scale, sumf[l]) over the blocks; y =
// ((s4 + s0) + (s6 + s2)) + ((s5 + s1) + (s7 + s3)) (its hsum_float_8). Per-block activations only.
void ternary_gemm_llamacpp_generic(const TernaryGemm& g, int64_t m0, int64_t m1);
void ternary_gemm_llamacpp_avx512(const TernaryGemm& g, int64_t m0, int64_t m1);
static inline float llamacpp_hsum8(const float* s) {
  return ((s[4] + s[0]) + (s[6] + s[2])) + ((s[5] + s[1]) + (s[7] + s[3]));
}

// The AVX-512 outer-product GEMM (ternary_outer_avx512.cc) for batches: it takes over from the register
// tiles at N >= kOuterMinN (measured faster from there) while a row group's transposed weights fit its
// stack buffer (Kp <= kOuterMaxCols). m0 must be a multiple of 16 (row groups).
constexpr int64_t kOuterMinN = 8;
constexpr int64_t kOuterMaxCols = 8192;
static inline bool ternary_outer_applies(const TernaryGemm& g) { return g.N >= kOuterMinN && g.Kp <= kOuterMaxCols; }
static inline int64_t ternary_outer_tiles(const TernaryGemm& g) { return (g.N + 15) / 16; }
// Fills out (ternary_outer_tiles(g), Kp / 4, 16, 4), then the GEMM reads g.q_tiles. The work is split in
// units of (token tile, 64 columns) — ternary_outer_tiles(g) * Kp / 64 of them — so a decode batch's single
// tile still spreads over the pool; this call fills units [unit0, unit1).
void ternary_interleave_avx512(const TernaryGemm& g, int8_t* out, int64_t unit0, int64_t unit1);
void ternary_gemm_outer_avx512(const TernaryGemm& g, int64_t m0, int64_t m1);

}  // namespace ternion
