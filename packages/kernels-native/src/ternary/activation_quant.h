// f32 -> int8 activation quantization for the ternary GEMM. Two schemes, each bit-exact with its source:
//   per-token     bitnet.cpp quantize_row_i8_s (microsoft/BitNet src/ggml-bitnet-mad.cpp; BitNet b1.58 paper
//                 eq. 3 absmax): max = max(1e-5, max |x|) in double, s = (float)(127 / max),
//                 q = clamp(nearest_int(x * s), -128, 127); one group per row.
//   per-block-256 llama.cpp quantize_row_q8_K_ref (ggml/src/ggml-quants.c): per 256 values, `max` is the
//                 signed value of largest |x| (first one wins), iscale = -127.f / max,
//                 q = min(127, nearest_int(iscale * x)), d = 1 / iscale; all-zero groups get d = 0, q = 0.
// `scales` hold DEQUANTISATION multipliers (x ~ q * scale): 1.f / s per token, d per block.
// `sums` hold sum(q) per group (the GEMM needs them because weight codes are w + 1).
//
// Every variant gives the same bits: the SIMD ones do the same IEEE float operations per element, in the same
// order, and reduce only max and integer sums (order-free). NaN is the exception they hand back to the
// scalar code: bitnet.cpp's MAX(max, a) = max > a ? max : a lets a NaN reset the running max, which only a
// sequential loop reproduces, and q8_K's `ax > amax` skips NaNs, which the bit-pattern maxima below do not;
// so a row (per-token) or group (per-block) holding a NaN runs the generic code.
#pragma once

#include <cstdint>
#include <cstring>

namespace ternion {

constexpr int64_t kActBlock = 256;

// ggml's nearest_int: round half to even through the float mantissa (valid for |f| <= 2^22).
static inline int nearest_int(float f) {
  const float v = f + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

// The SIMD per-block kernels reduce a group's raw f32 bit patterns (+0 padding included) with a signed max
// (`top`: the largest x >= +0, since negative patterns are negative ints) and an unsigned max (`top_u`: the
// negative x of largest |x|, since negative patterns sort above positive ones). That gives max |x| and its
// sign without a search; only when +max and -max both occur must the kernel look for the first of them.
struct GroupMax {
  uint32_t amax_bits;  // bits of max |x|; > kF32InfBits when the group holds a NaN (of either sign)
  bool both_signs;     // +max and -max both occur: the first one wins (the scalar `ax > amax`)
  uint32_t max_bits;   // bits of the signed max, unless both_signs
};
constexpr uint32_t kF32InfBits = 0x7f800000;
static inline float float_of_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
static inline GroupMax group_max_from_bits(int32_t top, uint32_t top_u) {
  const uint32_t pos = top > 0 ? static_cast<uint32_t>(top) : 0;      // largest x > 0, or 0
  const uint32_t neg = top_u > 0x80000000u ? top_u & 0x7fffffff : 0;  // largest |x| of x < 0, or 0
  return {pos > neg ? pos : neg, pos == neg, pos > neg ? pos : top_u};
}

// One 256-group, as the scalar reference does it: `len` (<= 256, may be <= 0) values are real, the rest count
// as zeros.
void quantize_q8k_block_generic(const float* x, int64_t len, int8_t* q /* (256) */, float* d, int32_t* sum);

// The group cases a SIMD per-block kernel settles without vector work, once it has the group's GroupMax: a
// NaN in the group (the scalar reference, whose NaN handling is exact) and an all-zero group. True when it
// wrote q, d and sum.
static inline bool q8k_block_settled(const GroupMax& gm, const float* x, int64_t len, int8_t* q /* (256) */,
                                     float* d, int32_t* sum) {
  if (gm.amax_bits > kF32InfBits) {
    quantize_q8k_block_generic(x, len, q, d, sum);
    return true;
  }
  if (gm.amax_bits == 0) {
    std::memset(q, 0, kActBlock);
    *d = 0;
    *sum = 0;
    return true;
  }
  return false;
}

// bitnet.cpp's per-token scale of a row without NaN whose largest |x| has the bits amax_bits: its MAX chain is
// then max(1e-5, max |x|) in double (|x| widened to double is exact), and s = (float)(127 / max).
static inline float per_token_scale_from_bits(uint32_t amax_bits) {
  const double a = float_of_bits(amax_bits);
  const double max = 0.00001 > a ? 0.00001 : a;
  return static_cast<float>(127 / max);
}

// The per-block row loop of the SIMD variants: groups wholly past cols are all-zero groups, the others go to
// `block(x, len, q, d, sum)` (that ISA's one-group kernel).
template <typename Block>
static inline void quantize_row_per_block_with(Block block, const float* x /* (cols) */, int64_t cols, int64_t kp,
                                               int8_t* q /* (kp) */, float* d /* (kp / 256) */,
                                               int32_t* sums /* (kp / 256) */) {
  for (int64_t g = 0; g < kp / kActBlock; g++) {
    const int64_t k0 = g * kActBlock;
    const int64_t len = cols - k0 < kActBlock ? cols - k0 : kActBlock;
    if (len <= 0) {
      std::memset(q + k0, 0, kActBlock);
      d[g] = 0;
      sums[g] = 0;
      continue;
    }
    block(x + k0, len, q + k0, d + g, sums + g);
  }
}

// One row x (cols) -> q (kp, zero padded past cols), kp % 256 == 0, kp >= cols.
//   per_token: scale (1), sum (1)
//   per_block: d (kp / 256), sums (kp / 256); groups past cols are all-zero groups.
void quantize_row_per_token_generic(const float* x, int64_t cols, int64_t kp, int8_t* q, float* scale,
                                    int32_t* sum);
void quantize_row_per_block_generic(const float* x, int64_t cols, int64_t kp, int8_t* q, float* d,
                                    int32_t* sums);

void quantize_row_per_token_avx2(const float* x, int64_t cols, int64_t kp, int8_t* q, float* scale,
                                 int32_t* sum);
void quantize_row_per_block_avx2(const float* x, int64_t cols, int64_t kp, int8_t* q, float* d,
                                 int32_t* sums);
void quantize_row_per_token_avx512(const float* x, int64_t cols, int64_t kp, int8_t* q, float* scale,
                                   int32_t* sum);
void quantize_row_per_block_avx512(const float* x, int64_t cols, int64_t kp, int8_t* q, float* d,
                                   int32_t* sums);

}  // namespace ternion
