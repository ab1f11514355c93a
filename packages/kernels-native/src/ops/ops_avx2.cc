// AVX2 + FMA elementwise and normalisation ops: 8 floats per step, scalar tails (the same expression as the
// vector lanes where results must be bit-exact, the reference expression otherwise).
// exp: Cephes expf like ops_avx512.cc; 2^n is built in the exponent field, so x is clamped to the normal
// range [-87.3, 88.7] (outside it the true result is within a rounding of 0 or is larger than FLT_MAX).
// Scalar math uses __builtin_* so no inline libstdc++ wrapper is emitted from this AVX2-compiled TU.
#include <immintrin.h>

#include "ops/ops_kernels.h"

namespace ternion {
namespace avx2 {

static inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.72283f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // n in [-126, 128]: split 2^n = 2^(n/2) · 2^(n - n/2) so both factors are normal floats.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i half = _mm256_srai_epi32(ni, 1);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
  const __m256 s2 =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), _mm256_set1_epi32(127)), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

static inline float hsum_max(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

static inline double hsum_pd(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

}  // namespace avx2

using namespace avx2;

void rms_norm_row_avx2(const float* x, const float* weight, float* out, int64_t d, float eps) {
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  int64_t c = 0;
  for (; c + 8 <= d; c += 8) {
    const __m256 v = _mm256_loadu_ps(x + c);
    const __m256 sq = _mm256_mul_ps(v, v);
    acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
    acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
  }
  double sum = hsum_pd(_mm256_add_pd(acc0, acc1));
  for (int64_t t = c; t < d; t++) sum += static_cast<double>(x[t] * x[t]);
  const float mean = static_cast<float>(sum / static_cast<double>(d));
  const float s = 1.0f / __builtin_sqrtf(mean + eps);
  const __m256 scale = _mm256_set1_ps(s);
  for (c = 0; c + 8 <= d; c += 8) {
    const __m256 y = _mm256_mul_ps(_mm256_loadu_ps(x + c), scale);
    _mm256_storeu_ps(out + c, _mm256_mul_ps(y, _mm256_loadu_ps(weight + c)));
  }
  for (; c < d; c++) out[c] = (x[c] * s) * weight[c];
}

void softmax_row_avx2(float* x, int64_t d) {
  __m256 vmax = _mm256_set1_ps(-__builtin_huge_valf());
  int64_t c = 0;
  for (; c + 8 <= d; c += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + c));
  float max = hsum_max(vmax);
  for (int64_t t = c; t < d; t++) max = __builtin_fmaxf(max, x[t]);
  const __m256 vm = _mm256_set1_ps(max);
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  for (c = 0; c + 8 <= d; c += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vm));
    _mm256_storeu_ps(x + c, e);
    acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  double sum = hsum_pd(_mm256_add_pd(acc0, acc1));
  for (int64_t t = c; t < d; t++) {
    x[t] = __builtin_expf(x[t] - max);
    sum += static_cast<double>(x[t]);
  }
  const float inv = static_cast<float>(1.0 / sum);
  const __m256 vinv = _mm256_set1_ps(inv);
  for (c = 0; c + 8 <= d; c += 8) _mm256_storeu_ps(x + c, _mm256_mul_ps(_mm256_loadu_ps(x + c), vinv));
  for (; c < d; c++) x[c] *= inv;
}

void silu_mul_avx2(const float* gate, const float* up, float* out, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  for (; i < count; i++) out[i] = (gate[i] / (1.0f + __builtin_expf(-gate[i]))) * up[i];
}

void relu2_mul_avx2(const float* gate, const float* up, float* out, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 r = _mm256_max_ps(_mm256_loadu_ps(gate + i), _mm256_setzero_ps());
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(r, r), _mm256_loadu_ps(up + i)));
  }
  for (; i < count; i++) {
    const float r = gate[i] > 0.0f ? gate[i] : 0.0f;
    out[i] = (r * r) * up[i];
  }
}

void add_avx2(const float* a, const float* b, float* out, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < count; i++) out[i] = a[i] + b[i];
}

void scale_avx2(float* x, float s, int64_t count) {
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
  for (; i < count; i++) x[i] *= s;
}

// One row of logits per sampled token: the AVX2 level keeps the scalar version (it is the AVX-512 one that
// the sampler's hot path wanted; a 32k-128k row is ~0.1 ms either way on AVX2-only machines).
void logits_stats_avx2(const float* x, int64_t d, bool with_lse, double* out) {
  logits_stats_generic(x, d, with_lse, out);
}

}  // namespace ternion
