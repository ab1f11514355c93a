#include <immintrin.h>

#include "bandwidth/bandwidth.h"

namespace ternion {

uint64_t read_fold_avx2(const uint8_t* p, size_t n) {
  __m256i a = _mm256_setzero_si256(), b = a;
  for (size_t i = 0; i < n; i += 64) {
    a = _mm256_xor_si256(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    b = _mm256_xor_si256(b, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
  }
  a = _mm256_xor_si256(a, b);
  alignas(32) uint64_t w[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(w), a);
  return w[0] ^ w[1] ^ w[2] ^ w[3];
}

}  // namespace ternion
