// Compute-peak probe: the multiply-add rate of the instructions the GEMM kernels are built on, so benchmarks
// can print "% of peak" beside "% of bandwidth" and derive the best a compute-bound step could do here.
// Each loop keeps 12 independent accumulator chains, more than latency x throughput of any of these
// instructions on current x86 cores, so the rate measured is throughput, not latency.
#pragma once

#include <cstdint>

namespace ternion {

// iters x 12 int8 dot-product instructions; returns a checksum (so nothing is elided) and sets *macs to the
// int8 multiply-adds done: AVX-512 VNNI vpdpbusd (64 per instruction), AVX2 vpmaddubsw + vpmaddwd (32 per
// pair, as the AVX2 ternary kernels use them), generic int32 scalar multiply-adds.
int64_t int8_dot_loop_generic(int64_t iters, int64_t* macs);
int64_t int8_dot_loop_avx2(int64_t iters, int64_t* macs);
int64_t int8_dot_loop_avx512(int64_t iters, int64_t* macs);

// iters x 12 float FMAs (AVX-512: 16 lanes, AVX2: 8 lanes, generic: a scalar multiply and add); *fmas set to
// the lane-operations done.
double f32_fma_loop_generic(int64_t iters, int64_t* fmas);
double f32_fma_loop_avx2(int64_t iters, int64_t* fmas);
double f32_fma_loop_avx512(int64_t iters, int64_t* fmas);

}  // namespace ternion
