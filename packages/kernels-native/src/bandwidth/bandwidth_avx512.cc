#include <immintrin.h>

#include "bandwidth/bandwidth.h"

namespace ternion {

uint64_t read_fold_avx512(const uint8_t* p, size_t n) {
  __m512i a = _mm512_setzero_si512(), b = a;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    a = _mm512_xor_si512(a, _mm512_loadu_si512(p + i));
    b = _mm512_xor_si512(b, _mm512_loadu_si512(p + i + 64));
  }
  if (i < n) a = _mm512_xor_si512(a, _mm512_loadu_si512(p + i));
  a = _mm512_xor_si512(a, b);
  alignas(64) uint64_t w[8];
  _mm512_store_si512(w, a);
  uint64_t r = 0;
  for (uint64_t x : w) r ^= x;
  return r;
}

}  // namespace ternion
