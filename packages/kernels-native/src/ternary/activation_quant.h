// f32 -> int8 activation quantization for the ternary GEMM. Two schemes, each bit-exact with its source:
//   per-token     bitnet.cpp quantize_row_i8_s (microsoft/BitNet src/ggml-bitnet-mad.cpp; BitNet b1.58 paper
//                 eq. 3 absmax): max = max(1e-5, max |x|) in double, s = (float)(127 / max),
//                 q = clamp(nearest_int(x * s), -128, 127); one group per row.
//   per-block-256 llama.cpp quantize_row_q8_K_ref (ggml/src/ggml-quants.c): per 256 values, `max` is the
//                 signed value of largest |x| (first one wins), iscale = -127.f / max,
//                 q = min(127, nearest_int(iscale * x)), d = 1 / iscale; all-zero groups get d = 0, q = 0.
// `scales` hold DEQUANTISATION multipliers (x ~ q * scale): 1.f / s per token, d per block.
// `sums` hold sum(q) per group (the GEMM needs them because weight codes are w + 1).
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

}  // namespace ternion
