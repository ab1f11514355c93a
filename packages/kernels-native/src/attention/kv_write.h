// One (token, KV head) row of kvWrite: K and V converted to f16 and stored in their cache layouts
// (attention/attention.h): K to k_dst[d * k_stride] (dimension-major: stride block_size), V to v_dst[d].
// f32 → f16 rounds to nearest even with IEEE NaN/inf/subnormal handling on every variant, so they are
// bit-exact with each other (the F16C one is vcvtps2ph, llama.cpp's own conversion on x86).
#pragma once

#include <cstdint>

namespace ternion {

using KvWriteRowFn = void (*)(const float* k, const float* v, int64_t head_dim, uint16_t* k_dst, int64_t k_stride,
                              uint16_t* v_dst);

void kv_write_row_generic(const float* k, const float* v, int64_t head_dim, uint16_t* k_dst, int64_t k_stride,
                          uint16_t* v_dst);
// F16C (8 values per vcvtps2ph); serves the AVX2 and AVX-512 levels.
void kv_write_row_avx2(const float* k, const float* v, int64_t head_dim, uint16_t* k_dst, int64_t k_stride,
                       uint16_t* v_dst);

}  // namespace ternion
