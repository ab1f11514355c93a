// Scalar references for the elementwise and normalisation ops, written to match llama.cpp's CPU ops
// (ggml-cpu ops.cpp / vec.h): same accumulator types, same operation order.
#include <cmath>

#include "ops/ops_kernels.h"

namespace ternion {

void rms_norm_row_generic(const float* x, const float* weight, float* out, int64_t d, float eps) {
  // ggml_compute_forward_rms_norm_f32: float squares summed in double, mean rounded to float, then
  // y = x · (1 / sqrtf(mean + eps)); the model's ggml_mul by the norm weight follows as a separate product.
  double sum = 0.0;
  for (int64_t c = 0; c < d; c++) sum += static_cast<double>(x[c] * x[c]);
  const float mean = static_cast<float>(sum / static_cast<double>(d));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t c = 0; c < d; c++) out[c] = (x[c] * scale) * weight[c];
}

void softmax_row_generic(float* x, int64_t d) {
  // ggml_vec_soft_max_f32: max-subtracted expf, sum in double, then scale by the float reciprocal.
  float max = -INFINITY;
  for (int64_t c = 0; c < d; c++) max = std::fmax(max, x[c]);
  double sum = 0.0;
  for (int64_t c = 0; c < d; c++) {
    const float e = std::exp(x[c] - max);
    x[c] = e;
    sum += static_cast<double>(e);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t c = 0; c < d; c++) x[c] *= inv;
}

void silu_mul_generic(const float* gate, const float* up, float* out, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    const float g = gate[i];
    out[i] = (g / (1.0f + std::exp(-g))) * up[i];  // ggml_silu_f32
  }
}

void relu2_mul_generic(const float* gate, const float* up, float* out, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    const float r = gate[i] > 0.0f ? gate[i] : 0.0f;  // NaN -> 0, like vmaxps(g, 0)
    out[i] = (r * r) * up[i];
  }
}

void add_generic(const float* a, const float* b, float* out, int64_t count) {
  for (int64_t i = 0; i < count; i++) out[i] = a[i] + b[i];
}

void scale_generic(float* x, float s, int64_t count) {
  for (int64_t i = 0; i < count; i++) x[i] *= s;
}

void logits_stats_generic(const float* x, int64_t d, bool with_lse, double* out) {
  // The sampler's argmax (first of the largest, NaN never wins) and logSumExp (max-subtracted, in double).
  int64_t best = 0;
  float max = -INFINITY;
  for (int64_t c = 0; c < d; c++) {
    if (x[c] > max) {
      max = x[c];
      best = c;
    }
  }
  out[0] = static_cast<double>(best);
  out[1] = max;
  if (!with_lse) {
    out[2] = __builtin_nan("");
    return;
  }
  if (!std::isfinite(max)) {
    out[2] = max;
    return;
  }
  double sum = 0.0;
  for (int64_t c = 0; c < d; c++) sum += static_cast<double>(std::exp(x[c] - max));
  out[2] = static_cast<double>(max) + std::log(sum);
}

}  // namespace ternion
