// Scalar reference dense matmuls: the oracle for the SIMD variants and the path on non-x86 CPUs.
// One float accumulator per output, k in order: the simplest order to reason about.
#include <cmath>
#include <cstring>

#include "common/fp16.h"
#include "dense/dense_kernels.h"

namespace ternion {

void matmul_f32_generic(const float* w, const float* x, float* y, int64_t n, int64_t m, int64_t k, int64_t j0,
                        int64_t j1) {
  for (int64_t j = j0; j < j1; j++) {
    const float* wj = w + j * k;  // (k)
    for (int64_t i = 0; i < n; i++) {
      const float* xi = x + i * k;  // (k)
      float sum = 0.0f;
      for (int64_t c = 0; c < k; c++) sum += wj[c] * xi[c];
      y[i * m + j] = sum;
    }
  }
}

void matmul_f16_generic(const uint16_t* w, const float* x, float* y, int64_t n, int64_t m, int64_t k, int64_t j0,
                        int64_t j1) {
  for (int64_t j = j0; j < j1; j++) {
    const uint16_t* wj = w + j * k;  // (k) half bits
    for (int64_t i = 0; i < n; i++) {
      const float* xi = x + i * k;  // (k)
      float sum = 0.0f;
      for (int64_t c = 0; c < k; c++) sum += fp16_to_f32(wj[c]) * xi[c];
      y[i * m + j] = sum;
    }
  }
}

void matmul_q8_0_generic(const uint8_t* w, const float* x, float* y, int64_t n, int64_t m, int64_t k, int64_t j0,
                         int64_t j1) {
  const int64_t blocks = k / kQ8_0BlockElems;
  for (int64_t j = j0; j < j1; j++) {
    const uint8_t* wj = w + j * blocks * kQ8_0BlockBytes;  // (blocks) × block_q8_0
    for (int64_t i = 0; i < n; i++) {
      const float* xi = x + i * k;  // (k)
      float sum = 0.0f;
      for (int64_t b = 0; b < blocks; b++) {
        const uint8_t* block = wj + b * kQ8_0BlockBytes;
        uint16_t d_bits;
        std::memcpy(&d_bits, block, 2);
        const float d = fp16_to_f32(d_bits);
        const int8_t* qs = reinterpret_cast<const int8_t*>(block + 2);  // (32)
        const float* xb = xi + b * kQ8_0BlockElems;
        for (int64_t c = 0; c < kQ8_0BlockElems; c++) sum += (d * static_cast<float>(qs[c])) * xb[c];
      }
      y[i * m + j] = sum;
    }
  }
}

void matmul_i8_generic(const int8_t* w, const float* w_scales, const int8_t* xq, const float* x_scales, float* y,
                       int64_t n, int64_t m, int64_t k, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; j++) {
    const int8_t* wj = w + j * k;  // (k)
    for (int64_t i = 0; i < n; i++) {
      const int8_t* xi = xq + i * k;  // (k)
      int32_t sum = 0;
      for (int64_t c = 0; c < k; c++) sum += static_cast<int32_t>(wj[c]) * static_cast<int32_t>(xi[c]);
      y[i * m + j] = static_cast<float>(sum) * (w_scales[j] * x_scales[i]);
    }
  }
}

namespace {

inline float widen(float v) { return v; }
inline float widen(uint16_t h) { return fp16_to_f32(h); }

template <typename T>
float quantize_row(const T* v, int64_t k, int8_t* q) {
  float amax = 0.0f;
  for (int64_t c = 0; c < k; c++) amax = std::fmax(amax, std::fabs(widen(v[c])));
  const float d = amax / kI8Max;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int64_t c = 0; c < k; c++) {
    // nearbyint rounds half to even (the default mode), like cvtps2dq. Clamping before the int conversion
    // also turns NaN into -127 instead of undefined behaviour.
    const float r = std::fmin(std::fmax(std::nearbyint(widen(v[c]) * id), -kI8Max), kI8Max);
    q[c] = static_cast<int8_t>(r);
  }
  return d;
}

}  // namespace

float quantize_row_i8_f32_generic(const float* v, int64_t k, int8_t* q) { return quantize_row(v, k, q); }
float quantize_row_i8_f16_generic(const uint16_t* v, int64_t k, int8_t* q) { return quantize_row(v, k, q); }

}  // namespace ternion
