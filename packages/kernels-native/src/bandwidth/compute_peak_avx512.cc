#include <immintrin.h>

// GCC 12's own AVX-512 headers trip -Wuninitialized on _mm512_undefined_* inside the reductions.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "bandwidth/compute_peak.h"

namespace ternion {

int64_t int8_dot_loop_avx512(int64_t iters, int64_t* macs) {
  __m512i acc[12];
  __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-5);
  for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_epi32(i);
  for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], u, s);
    __asm__ volatile("" : "+v"(u), "+v"(s));  // the operands are not loop-invariant to the compiler
  }
  __m512i sum = acc[0];
  for (int i = 1; i < 12; i++) sum = _mm512_add_epi32(sum, acc[i]);
  *macs = iters * 12 * 64;
  return _mm512_reduce_add_epi32(sum);
}

double f32_fma_loop_avx512(int64_t iters, int64_t* fmas) {
  __m512 acc[12];
  __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
  for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __asm__ volatile("" : "+v"(a), "+v"(b));
  }
  __m512 sum = acc[0];
  for (int i = 1; i < 12; i++) sum = _mm512_add_ps(sum, acc[i]);
  *fmas = iters * 12 * 16;
  return static_cast<double>(_mm512_reduce_add_ps(sum));
}

}  // namespace ternion
