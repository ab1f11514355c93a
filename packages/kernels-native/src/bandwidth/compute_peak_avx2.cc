#include <immintrin.h>

#include "bandwidth/compute_peak.h"

namespace ternion {

int64_t int8_dot_loop_avx2(int64_t iters, int64_t* macs) {
  __m256i acc[12];
  __m256i u = _mm256_set1_epi8(3), s = _mm256_set1_epi8(-5);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_epi32(i);
  for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) {
      acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), ones));
    }
    __asm__ volatile("" : "+v"(u), "+v"(s));
  }
  __m256i sum = acc[0];
  for (int i = 1; i < 12; i++) sum = _mm256_add_epi32(sum, acc[i]);
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
  int64_t r = 0;
  for (int32_t x : lanes) r += x;
  *macs = iters * 12 * 32;
  return r;
}

double f32_fma_loop_avx2(int64_t iters, int64_t* fmas) {
  __m256 acc[12];
  __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __asm__ volatile("" : "+v"(a), "+v"(b));
  }
  __m256 sum = acc[0];
  for (int i = 1; i < 12; i++) sum = _mm256_add_ps(sum, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  double r = 0;
  for (float x : lanes) r += x;
  *fmas = iters * 12 * 8;
  return r;
}

}  // namespace ternion
