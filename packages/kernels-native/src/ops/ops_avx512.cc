// AVX-512 elementwise and normalisation ops: 16 floats per step, masked tails.
// exp: Cephes expf (range reduction by ln 2 split in two constants, degree-5 polynomial), with vscalefps
// applying 2^n so overflow gives +inf and underflow gives 0 without extra clamping.
#include <immintrin.h>

#include "ops/ops_kernels.h"

// GCC 12 reports its own _mm512_undefined_* placeholders inside some intrinsics as uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ternion {
namespace avx512 {

static inline __mmask16 tail_mask(int64_t len) { return static_cast<__mmask16>((1u << len) - 1u); }

static inline __m512 exp_ps(__m512 x) {
  // Beyond ±104 the result is 0 or inf anyway; clamping keeps n small enough for exact range reduction.
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(89.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

static inline __m512 silu_ps(__m512 g) {
  const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g));
  return _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

}  // namespace avx512

using namespace avx512;

void rms_norm_row_avx512(const float* x, const float* weight, float* out, int64_t d, float eps) {
  __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
  int64_t c = 0;
  for (; c + 16 <= d; c += 16) {
    const __m512 v = _mm512_loadu_ps(x + c);
    const __m512 sq = _mm512_mul_ps(v, v);  // squares in float, summed in double, like the reference
    acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
    acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sq), 1))));
  }
  if (c < d) {
    const __m512 v = _mm512_maskz_loadu_ps(tail_mask(d - c), x + c);
    const __m512 sq = _mm512_mul_ps(v, v);
    acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
    acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sq), 1))));
  }
  const double sum = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
  const float mean = static_cast<float>(sum / static_cast<double>(d));
  const __m512 scale = _mm512_set1_ps(1.0f / _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(mean + eps))));
  for (c = 0; c + 16 <= d; c += 16) {
    const __m512 y = _mm512_mul_ps(_mm512_loadu_ps(x + c), scale);
    _mm512_storeu_ps(out + c, _mm512_mul_ps(y, _mm512_loadu_ps(weight + c)));
  }
  if (c < d) {
    const __mmask16 m = tail_mask(d - c);
    const __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + c), scale);
    _mm512_mask_storeu_ps(out + c, m, _mm512_mul_ps(y, _mm512_maskz_loadu_ps(m, weight + c)));
  }
}

void softmax_row_avx512(float* x, int64_t d) {
  __m512 vmax = _mm512_set1_ps(-__builtin_huge_valf());
  int64_t c = 0;
  for (; c + 16 <= d; c += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + c));
  if (c < d) vmax = _mm512_mask_max_ps(vmax, tail_mask(d - c), vmax, _mm512_maskz_loadu_ps(tail_mask(d - c), x + c));
  const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
  for (c = 0; c < d; c += 16) {
    const __mmask16 m = d - c >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(d - c);
    const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + c), max)));
    _mm512_mask_storeu_ps(x + c, m, e);
    acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1))));
  for (c = 0; c < d; c += 16) {
    const __mmask16 m = d - c >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(d - c);
    _mm512_mask_storeu_ps(x + c, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + c), inv));
  }
}

void silu_mul_avx512(const float* gate, const float* up, float* out, int64_t count) {
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = count - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(count - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(silu_ps(g), _mm512_maskz_loadu_ps(m, up + i)));
  }
}

void relu2_mul_avx512(const float* gate, const float* up, float* out, int64_t count) {
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = count - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(count - i);
    // vmaxps returns its second operand when the first is NaN: NaN gates become 0, like the reference.
    const __m512 r = _mm512_max_ps(_mm512_maskz_loadu_ps(m, gate + i), _mm512_setzero_ps());
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_mul_ps(r, r), _mm512_maskz_loadu_ps(m, up + i)));
  }
}

void add_avx512(const float* a, const float* b, float* out, int64_t count) {
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = count - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(count - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void scale_avx512(float* x, float s, int64_t count) {
  const __m512 vs = _mm512_set1_ps(s);
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = count - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(count - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs));
  }
}

void logits_stats_avx512(const float* x, int64_t d, bool with_lse, double* out) {
  // Per lane: the first strictly larger value and its index (NaN compares false, like the scalar loop).
  __m512 vmax = _mm512_set1_ps(-__builtin_huge_valf());
  __m512i vidx = _mm512_setzero_si512();
  __m512i idx = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i step = _mm512_set1_epi32(16);
  __mmask16 nan = 0;  // exp_ps clamps NaN away, so NaN inputs are tracked here to make the sum NaN
  for (int64_t c = 0; c < d; c += 16, idx = _mm512_add_epi32(idx, step)) {
    const __mmask16 m = d - c >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(d - c);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + c);
    nan |= _mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q);
    const __mmask16 gt = _mm512_mask_cmp_ps_mask(m, v, vmax, _CMP_GT_OQ);
    vmax = _mm512_mask_mov_ps(vmax, gt, v);
    vidx = _mm512_mask_mov_epi32(vidx, gt, idx);
  }
  const float max = _mm512_reduce_max_ps(vmax);
  // The first index overall: the smallest index among lanes holding the maximum.
  const __mmask16 at_max = _mm512_cmp_ps_mask(vmax, _mm512_set1_ps(max), _CMP_EQ_OQ);
  const int32_t best = _mm512_mask_reduce_min_epi32(at_max, vidx);
  out[0] = static_cast<double>(at_max ? best : 0);
  out[1] = max;
  if (!with_lse) {
    out[2] = __builtin_nan("");
    return;
  }
  if (!(max - max == 0.0f)) {  // ±inf (NaN cannot be the max)
    out[2] = max;
    return;
  }
  if (nan) {
    out[2] = __builtin_nan("");
    return;
  }
  const __m512 vm = _mm512_set1_ps(max);
  __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
  for (int64_t c = 0; c < d; c += 16) {
    const __mmask16 m = d - c >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(d - c);
    const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + c), vm)));
    acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  out[2] = static_cast<double>(max) + __builtin_log(_mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1)));
}

}  // namespace ternion
