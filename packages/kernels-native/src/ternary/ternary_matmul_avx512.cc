#include "ternary/ternary_matmul.h"
namespace ternion {
void ternary_gemm_avx512(const TernaryGemm& g, int64_t m0, int64_t m1) { ternary_gemm_generic(g, m0, m1); }
}  // namespace ternion
