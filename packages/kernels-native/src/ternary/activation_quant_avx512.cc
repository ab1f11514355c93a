// AVX-512 activation quantization (activation_quant.h), bit-exact with the scalar reference: maxima are
// taken on the float bit patterns (order-free), then each lane does the scalar's own float operations
// (x * s or iscale * x, + 2^23 + 2^22 for nearest_int, integer clamp), and sums are int32 lane sums.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ternary/activation_quant.h"

// GCC 12 reports its own _mm512_undefined_* placeholders inside some intrinsics as uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ternion {
namespace avx512 {
namespace {

// |x| patterns order like |x|, and every NaN sorts above +Inf: one unsigned max gives max |x| and tells
// whether a NaN is there.
static inline __m512i abs_bits(__m512 v) {
  return _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff));
}

// Lanes [0, n) of 16, n clamped to [0, 16].
static inline __mmask16 first_lanes(int64_t n) {
  if (n >= 16) return 0xffff;
  if (n <= 0) return 0;
  return static_cast<__mmask16>((1u << n) - 1);
}

// ternion::nearest_int on 16 lanes.
static inline __m512i nearest_int16(__m512 f) {
  const __m512i b = _mm512_castps_si512(_mm512_add_ps(f, _mm512_set1_ps(12582912.f)));
  return _mm512_sub_epi32(_mm512_and_si512(b, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x00400000));
}


// 16 values of a per-token row: q = clamp(nearest_int(x * s), -128, 127), acc += q.
static inline __m512i token16(__m512 x, __m512 s, __m512i acc, int8_t* q) {
  __m512i v = nearest_int16(_mm512_mul_ps(x, s));
  v = _mm512_min_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(-128)), _mm512_set1_epi32(127));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(v));
  return _mm512_add_epi32(acc, v);
}

// One 256-group, 0 < len <= 256 real values.
static inline void q8k_block(const float* x, int64_t len, int8_t* q /* (256) */, float* d, int32_t* sum) {
  __m512 v[16];  // (256) the group, zeros past len
  __m512i smax[4], umax[4];  // of the raw bit patterns (group_max_from_bits)
#pragma GCC unroll 16
  for (int k = 0; k < 16; k++) {
    v[k] = _mm512_maskz_loadu_ps(first_lanes(len - 16 * k), x + 16 * k);
    const __m512i b = _mm512_castps_si512(v[k]);
    smax[k % 4] = k < 4 ? b : _mm512_max_epi32(smax[k % 4], b);
    umax[k % 4] = k < 4 ? b : _mm512_max_epu32(umax[k % 4], b);
  }
  const GroupMax gm = group_max_from_bits(
      _mm512_reduce_max_epi32(
          _mm512_max_epi32(_mm512_max_epi32(smax[0], smax[1]), _mm512_max_epi32(smax[2], smax[3]))),
      _mm512_reduce_max_epu32(
          _mm512_max_epu32(_mm512_max_epu32(umax[0], umax[1]), _mm512_max_epu32(umax[2], umax[3]))));
  if (q8k_block_settled(gm, x, len, q, d, sum)) return;
  float max = float_of_bits(gm.max_bits);
  if (gm.both_signs) {
    // Padding (|x| = 0) never matches.
    const __m512i target = _mm512_set1_epi32(static_cast<int>(gm.amax_bits));
    for (int k = 0; k < 16; k++) {
      const __mmask16 hit = _mm512_cmpeq_epi32_mask(abs_bits(v[k]), target);
      if (hit) {
        max = x[16 * k + __builtin_ctz(hit)];
        break;
      }
    }
  }
  const float iscale = -127.f / max;
  const __m512 vi = _mm512_set1_ps(iscale);
  __m512i acc = _mm512_setzero_si512();
#pragma GCC unroll 16
  for (int k = 0; k < 16; k++) {
    __m512i n = nearest_int16(_mm512_mul_ps(vi, v[k]));
    n = _mm512_min_epi32(n, _mm512_set1_epi32(127));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16 * k), _mm512_cvtepi32_epi8(n));
    acc = _mm512_add_epi32(acc, n);
  }
  *d = 1 / iscale;
  *sum = _mm512_reduce_add_epi32(acc);
}

}  // namespace
}  // namespace avx512

void quantize_row_per_token_avx512(const float* x /* (cols) */, int64_t cols, int64_t kp,
                                   int8_t* q /* (kp) */, float* scale, int32_t* sum) {
  using namespace avx512;
  __m512i m0 = _mm512_setzero_si512(), m1 = m0, m2 = m0, m3 = m0;
  int64_t i = 0;
  for (; i + 64 <= cols; i += 64) {
    m0 = _mm512_max_epu32(m0, abs_bits(_mm512_loadu_ps(x + i)));
    m1 = _mm512_max_epu32(m1, abs_bits(_mm512_loadu_ps(x + i + 16)));
    m2 = _mm512_max_epu32(m2, abs_bits(_mm512_loadu_ps(x + i + 32)));
    m3 = _mm512_max_epu32(m3, abs_bits(_mm512_loadu_ps(x + i + 48)));
  }
  for (; i < cols; i += 16) {
    m0 = _mm512_max_epu32(m0, abs_bits(_mm512_maskz_loadu_ps(first_lanes(cols - i), x + i)));
  }
  const __m512i m = _mm512_max_epu32(_mm512_max_epu32(m0, m1), _mm512_max_epu32(m2, m3));
  const uint32_t amax_bits = _mm512_reduce_max_epu32(m);
  if (amax_bits > kF32InfBits) {
    quantize_row_per_token_generic(x, cols, kp, q, scale, sum);
    return;
  }
  const float s = per_token_scale_from_bits(amax_bits);
  const __m512 vs = _mm512_set1_ps(s);
  __m512i acc0 = _mm512_setzero_si512(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  i = 0;
  for (; i + 64 <= cols; i += 64) {
    acc0 = token16(_mm512_loadu_ps(x + i), vs, acc0, q + i);
    acc1 = token16(_mm512_loadu_ps(x + i + 16), vs, acc1, q + i + 16);
    acc2 = token16(_mm512_loadu_ps(x + i + 32), vs, acc2, q + i + 32);
    acc3 = token16(_mm512_loadu_ps(x + i + 48), vs, acc3, q + i + 48);
  }
  // The ragged end and the padding up to kp: zero lanes quantize to 0 (s is finite).
  for (; i < kp; i += 16) {
    acc0 = token16(_mm512_maskz_loadu_ps(first_lanes(cols - i), x + i), vs, acc0, q + i);
  }
  *scale = 1.f / s;
  const __m512i acc = _mm512_add_epi32(_mm512_add_epi32(acc0, acc1), _mm512_add_epi32(acc2, acc3));
  *sum = _mm512_reduce_add_epi32(acc);
}

void quantize_row_per_block_avx512(const float* x, int64_t cols, int64_t kp, int8_t* q, float* d, int32_t* sums) {
  quantize_row_per_block_with(
      [](const float* xg, int64_t len, int8_t* qg, float* dg, int32_t* sg) { avx512::q8k_block(xg, len, qg, dg, sg); },
      x, cols, kp, q, d, sums);
}

}  // namespace ternion
