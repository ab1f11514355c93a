// kvWrite's row conversion with F16C: vcvtps2ph rounds 8 floats to f16 at once (nearest even, as the scalar
// f32_to_fp16 does); K's values then go one by one to their dimension-major places, V's in one store.
#include <immintrin.h>

#include "attention/kv_write.h"
#include "common/fp16.h"

namespace ternion {

void kv_write_row_avx2(const float* k, const float* v, int64_t head_dim, uint16_t* k_dst, int64_t k_stride,
                       uint16_t* v_dst) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  int64_t d = 0;
  for (; d + 8 <= head_dim; d += 8) {
    alignas(16) uint16_t kh[8];  // (8) K[d .. d + 8) as f16
    _mm_store_si128(reinterpret_cast<__m128i*>(kh), _mm256_cvtps_ph(_mm256_loadu_ps(k + d), kRound));
    for (int j = 0; j < 8; j++) k_dst[(d + j) * k_stride] = kh[j];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(v_dst + d), _mm256_cvtps_ph(_mm256_loadu_ps(v + d), kRound));
  }
  for (; d < head_dim; d++) {
    k_dst[d * k_stride] = f32_to_fp16(k[d]);
    v_dst[d] = f32_to_fp16(v[d]);
  }
}

}  // namespace ternion
