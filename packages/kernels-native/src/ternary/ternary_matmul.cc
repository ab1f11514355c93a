// ternaryMatmul: the scalar reference kernel, the per-call ISA dispatch and the N-API binding.
#include "ternary/ternary_matmul.h"

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/isa.h"
#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"
#include "core/work.h"
#include "ternary/packed_layout.h"

namespace ternion {

// Reference: one (n, m) pair at a time, every code unpacked with the layout's own formula.
void ternary_gemm_generic(const TernaryGemm& g, int64_t m0, int64_t m1) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t groups = g.per_block ? nblocks : 1;
  for (int64_t n = 0; n < g.N; n++) {
    const int8_t* q = g.q + n * g.Kp;
    const float* as = g.a_scales + n * groups;
    const int32_t* sums = g.a_sums + n * groups;
    for (int64_t m = m0; m < m1; m++) {
      const uint8_t* w = g.w + m * (g.Kp / 4);
      int32_t total = 0;
      float acc = 0.f;
      for (int64_t b = 0; b < nblocks; b++) {
        const uint8_t* wb = w + b * kPackedBlockBytes;
        const int8_t* qb = q + b * kPackedBlockWeights;
        int32_t dot = 0;
        for (int j = 0; j < 64; j++) {
          for (int p = 0; p < 4; p++) dot += ((wb[j] >> (2 * p)) & 3) * qb[j + 64 * p];
        }
        if (g.per_block) {
          acc = ternary_block_step(acc, dot - sums[b], as[b]);
        } else {
          total += dot;
        }
      }
      g.y[n * g.M + m] = g.per_block ? ternary_out_per_block(acc, g.w_scales[m])
                                     : ternary_out_per_token(total - sums[0], as[0], g.w_scales[m]);
    }
  }
}

void ternary_gemm_llamacpp_generic(const TernaryGemm& g, int64_t m0, int64_t m1) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  for (int64_t n = 0; n < g.N; n++) {
    const int8_t* q = g.q + n * g.Kp;
    for (int64_t m = m0; m < m1; m++) {
      const uint8_t* w = g.w + m * (g.Kp / 4);
      float sumf[8] = {};
      for (int64_t b = 0; b < nblocks; b++) {
        int32_t lane[8] = {};
        for (int j = 0; j < 64; j++) {
          for (int p = 0; p < 4; p++) {
            const int64_t k = j + 64 * p;  // within the block
            lane[(k % 32) / 4] += ((w[b * kPackedBlockBytes + j] >> (2 * p)) & 3) * q[b * kPackedBlockWeights + k];
          }
        }
        const float d = g.a_scales[n * nblocks + b] * g.w_scales[m];
        const int32_t* sums32 = g.q_sums32 + (n * nblocks + b) * 8;
        for (int l = 0; l < 8; l++) sumf[l] = std::fma(static_cast<float>(lane[l] - sums32[l]), d, sumf[l]);
      }
      g.y[n * g.M + m] = llamacpp_hsum8(sumf);
    }
  }
}

namespace {

using GemmFn = void (*)(const TernaryGemm&, int64_t, int64_t);

GemmFn pick_gemm() { return TERNION_PICK(ternary_gemm); }

// Most matrices one ternaryMatmulGroup call runs (a layer's q, k, v or gate, up).
constexpr int kMaxGroup = 4;

// Runs the GEMMs gs[0..count) — same activations (q, scales, sums, N, Kp, mode), own weights and outputs — as
// one pool job over their rows laid end to end, each matrix starting at a multiple of 64 rows: one wake-up and
// one tail wait instead of `count`, and the activations interleaved (outer-product kernel) or summed by 32
// (llama.cpp order) once for all of them.
void run_gemms(TernaryGemm* gs, int count) {
  int64_t offset[kMaxGroup + 1];  // (count + 1) first virtual row of each matrix, then the end
  offset[0] = 0;
  for (int i = 0; i < count; i++) offset[i + 1] = offset[i] + (gs[i].M + 63) / 64 * 64;
  GemmFn fn = pick_gemm();
  int64_t grain = 64;  // 64-row chunks: whole register tiles (and row groups of 16), and the weights of a
                       // chunk (64 * Kp/4 bytes) stay in L2 while every activation row passes over them
  const TernaryGemm& g0 = gs[0];
  if (g0.llamacpp) {
    const int64_t nblocks = g0.Kp / kPackedBlockWeights;
    static thread_local std::vector<int32_t> sums32;  // (N, nblocks, 8)
    sums32.resize(static_cast<size_t>(g0.N * nblocks * 8));
    for (int64_t i = 0; i < g0.N * nblocks * 8; i++) {
      int32_t s = 0;
      for (int64_t k = 0; k < 32; k++) s += g0.q[i * 32 + k];  // q rows are contiguous: (N, Kp)
      sums32[static_cast<size_t>(i)] = s;
    }
    for (int i = 0; i < count; i++) gs[i].q_sums32 = sums32.data();
    // The AVX2 level runs the scalar code (a comparison mode, not a hot path).
    fn = ternary_gemm_llamacpp_generic;
#ifdef TERNION_X86
    if (active_isa() == Isa::kAvx512) fn = ternary_gemm_llamacpp_avx512;
#endif
    grain = 16;
  }
#ifdef TERNION_X86
  else if (fn == ternary_gemm_avx512 && ternary_outer_applies(g0)) {
    // The outer-product kernel reads the activations interleaved by 16 tokens: built once per call here.
    static thread_local std::vector<int8_t> scratch;  // (tiles, Kp / 4, 16, 4) + alignment
    const int64_t tiles = ternary_outer_tiles(g0);
    const size_t bytes = static_cast<size_t>(tiles * g0.Kp * 16);
    if (scratch.size() < bytes + 64) scratch.resize(bytes + 64);
    int8_t* q_tiles = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
    // 8 units (8 x 16 tokens x 64 bytes = 8 KiB) per chunk at least: below that a split costs more than it saves.
    ThreadPool::instance().parallel_for(tiles * (g0.Kp / 64), 8, [&](int64_t u0, int64_t u1, int) {
      ternary_interleave_avx512(g0, q_tiles, u0, u1);
    });
    for (int i = 0; i < count; i++) gs[i].q_tiles = q_tiles;
    fn = ternary_gemm_outer_avx512;
  }
#endif
  ThreadPool::instance().parallel_for(offset[count], grain, [&](int64_t b, int64_t e, int) {
    for (int i = 0; i < count; i++) {
      // The chunk's part in matrix i: starts at a multiple of `grain` rows of it (offsets are multiples of 64).
      const int64_t m0 = (b > offset[i] ? b : offset[i]) - offset[i];
      const int64_t m1 = (e < offset[i] + gs[i].M ? e : offset[i] + gs[i].M) - offset[i];
      if (m0 < m1) fn(gs[i], m0, m1);
    }
  });
}

// Reads matrix i's (wData, wRowScales, M, y) at arguments first..first+3 into g (whose Kp, N, mode are set).
void read_matrix(const Napi::CallbackInfo& info, size_t first, TernaryGemm& g) {
  Napi::Env env = info.Env();
  g.M = int_arg(info, first + 2, "rows (M)", 1, int64_t{1} << 31);
  g.w = u8_arg(info, first, "wData", checked_mul(env, g.M, g.Kp / 4, "M * colsPadded / 4")).data;
  g.w_scales = f32_arg(info, first + 1, "wRowScales", static_cast<size_t>(g.M)).data;
  g.y = f32_arg(info, first + 3, "y", checked_mul(env, g.N, g.M, "N * M")).data;
}

// Reads the shared activation arguments (Kp at kp_at, then q, aScales, aSums, mode, N) into g.
void read_activations(const Napi::CallbackInfo& info, size_t kp_at, TernaryGemm& g) {
  Napi::Env env = info.Env();
  g.Kp = int_arg(info, kp_at, "colsPadded", kPackedBlockWeights, kMaxTernaryCols + kPackedBlockWeights);
  if (g.Kp % kPackedBlockWeights != 0) {
    throw_range_error(env, "argument " + std::to_string(kp_at) + " (colsPadded): must be a multiple of 256");
  }
  const int64_t mode = int_arg(info, kp_at + 4, "mode", 0, 2);  // 0 per-token, 1 per-block-256, 2 = 1 in llama.cpp's order
  g.per_block = mode >= 1;
  g.llamacpp = mode == 2;
  g.N = int_arg(info, kp_at + 5, "N", 1, int64_t{1} << 24);
  const int64_t groups = g.per_block ? g.Kp / kPackedBlockWeights : 1;
  g.q = i8_arg(info, kp_at + 1, "q", checked_mul(env, g.N, g.Kp, "N * colsPadded")).data;
  g.a_scales = f32_arg(info, kp_at + 2, "aScales", checked_mul(env, g.N, groups, "N * groups")).data;
  g.a_sums = i32_arg(info, kp_at + 3, "aSums", checked_mul(env, g.N, groups, "N * groups")).data;
}

// ternaryMatmul(wData: Uint8Array (M, Kp/4), wRowScales: Float32Array (M), M, Kp, q: Int8Array (>= N*Kp),
//               aScales: Float32Array, aSums: Int32Array (>= N * groups), mode (0 per-token, 1 per-block-256),
//               N, y: Float32Array (>= N*M))
Work PrepareMatmul(const Napi::CallbackInfo& info) {
  TernaryGemm g{};
  read_activations(info, 3, g);
  g.M = int_arg(info, 2, "rows (M)", 1, int64_t{1} << 31);
  Napi::Env env = info.Env();
  g.w = u8_arg(info, 0, "wData", checked_mul(env, g.M, g.Kp / 4, "M * colsPadded / 4")).data;
  g.w_scales = f32_arg(info, 1, "wRowScales", static_cast<size_t>(g.M)).data;
  g.y = f32_arg(info, 9, "y", checked_mul(env, g.N, g.M, "N * M")).data;
  return [g]() mutable { run_gemms(&g, 1); };
}

// ternaryMatmulGroup(count, Kp, q, aScales, aSums, mode, N, then count x (wData, wRowScales, M, y)): the
// matrices of one activation batch (a layer's q, k, v) in one call; each result equals its ternaryMatmul's.
Work PrepareMatmulGroup(const Napi::CallbackInfo& info) {
  const int count = static_cast<int>(int_arg(info, 0, "count", 1, kMaxGroup));
  if (info.Length() != 7 + 4 * static_cast<size_t>(count)) {
    throw_range_error(info.Env(), "ternaryMatmulGroup: expected " + std::to_string(7 + 4 * count) +
                                      " arguments for " + std::to_string(count) + " matrices, got " +
                                      std::to_string(info.Length()));
  }
  TernaryGemm base{};
  read_activations(info, 1, base);
  TernaryGemm gs[kMaxGroup]{};
  for (int i = 0; i < count; i++) {
    gs[i] = base;
    read_matrix(info, 7 + 4 * static_cast<size_t>(i), gs[i]);
  }
  return [gs, count]() mutable { run_gemms(gs, count); };
}

void Init(Napi::Env env, Napi::Object exports) {
  export_kernel(env, exports, "ternaryMatmul", PrepareMatmul);
  export_kernel(env, exports, "ternaryMatmulGroup", PrepareMatmulGroup);
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(ternary_matmul, ternion::Init);
TERNION_KERNEL(ternary_matmul, "generic", "avx2", "avx512-vnni");
