// AVX-512 paged attention. Per chunk of up to 256 positions:
//   scores  16 positions in one zmm: K is dimension-major inside a block, so for each dimension d one 32-byte
//           load + vcvtph2ps gives k[d] for 16 positions, multiplied by q[d] broadcast (no horizontal sums);
//           the chunk's scores go to a stack buffer, their lane-wise maximum alongside;
//   softmax one horizontal maximum per head and chunk updates the running maximum (rescaling the
//           accumulator when it grows), then p = exp(s - max) for 16 lanes at once;
//   p·V     each V row (position-major) is converted once and added to every query head of the group, the
//           accumulator held in registers for the whole chunk.
// Query heads that share a KV head go through together (up to 8), so K/V are read and converted once per
// group. Online softmax: Milakov & Gimelshein, "Online normalizer calculation for softmax" (2018), in the
// tiled form of FlashAttention (Dao et al. 2022). Q, scores, probabilities and the accumulator stay in f32
// (ggml's CPU flash-attention rounds Q and the V accumulator to f16; this is the more precise side).
// The int8 caches share the code: their values convert with vpmovsxbd + vcvtdq2ps, the K scales multiply
// the 16 scores, and the V scales fold into the probabilities. Without GQA, long decode batches go through
// attend_heads_blockwise instead, which reads each block's K/V for many heads as one contiguous run.
#include <immintrin.h>

#include <cmath>

// GCC 12 flags the deliberately undefined pass-through operand inside its own AVX-512 intrinsics
// (_mm512_undefined_ps) as uninitialised; the values are never used.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "attention/attention.h"

namespace ternion {
namespace avx512 {
namespace {

constexpr int kMaxGroup = 8;  // query heads per pass: 2 score accumulators each stay in registers
constexpr int64_t kChunk = 256;  // positions whose scores are held at once
constexpr int64_t kPrefetchBlocks = 1;  // how many blocks ahead K and V are prefetched

// e^x, relative error below 2e-7 for x in [-104, 88]; lanes below -104 give (almost) 0.
// Range reduction x = n·ln2 + r with ln2 split in two (Cody & Waite), degree-6 Taylor polynomial on
// |r| <= ln2/2, then vscalefps multiplies by 2^n (it underflows gracefully to 0).
inline __m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// Up to 16 cache values from element `index` on (masked lanes read nothing and give 0) as f32: f16
// through vcvtph2ps, int8 sign-extended (without its scale).
template <bool kInt8>
inline __m512 load_values(const void* cache, int64_t index, __mmask16 mask) {
  if constexpr (kInt8) {
    const __m128i bytes = _mm_maskz_loadu_epi8(mask, static_cast<const int8_t*>(cache) + index);
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes));
  } else {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(cache) + index));
  }
}

// Step 2 of a chunk for one head (online softmax: Milakov & Gimelshein, "Online normalizer calculation for
// softmax", 2018): if the chunk's max exceeds the running max m, rescale the running sum l and the
// accumulator (num_chunks x 16 floats) by exp(m - chunk_max); then p = exp(s - m) in place over the chunk's n
// scores, added to l. int8 caches fold V's per-position scale (v_scale, (n)) into the probabilities.
template <bool kInt8>
inline void softmax_chunk(float* p /* (n) */, int64_t n, const float* v_scale, float chunk_max, float& m, __m512& l,
                          float* acc /* (num_chunks, 16) */, int64_t num_chunks) {
  if (chunk_max > m) {
    const __m512 cv = _mm512_set1_ps(std::exp(m - chunk_max));
    l = _mm512_mul_ps(l, cv);
    for (int64_t c = 0; c < num_chunks; c++) {
      _mm512_store_ps(acc + c * 16, _mm512_mul_ps(_mm512_load_ps(acc + c * 16), cv));
    }
    m = chunk_max;
  }
  const __m512 mv = _mm512_set1_ps(m);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 lanes = n - i >= 16 ? 0xffff : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 e = _mm512_maskz_mov_ps(lanes, exp_ps(_mm512_sub_ps(_mm512_maskz_load_ps(lanes, p + i), mv)));
    l = _mm512_add_ps(l, e);
    _mm512_store_ps(p + i, kInt8 ? _mm512_mul_ps(e, _mm512_maskz_load_ps(lanes, v_scale + i)) : e);
  }
}

// out (num_chunks x 16, the last chunk masked by last_chunk) = acc / Σ l: the softmax's normalisation, once per
// (token, head) at the end.
inline void store_normalized(float* out, const float* acc, __m512 l, int64_t num_chunks, __mmask16 last_chunk) {
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(l));
  for (int64_t c = 0; c < num_chunks; c++) {
    const __mmask16 dims = c == num_chunks - 1 ? last_chunk : 0xffff;
    _mm512_mask_storeu_ps(out + c * 16, dims, _mm512_mul_ps(_mm512_load_ps(acc + c * 16), inv));
  }
}

// Prefetches bytes [from, to) past `base` at a 64-byte stride (a prefetch never faults), into L1 or only
// into L2. Ranges issued back to back ([0, x), [x, y), ...) reach every line of [0, y) except perhaps the
// one holding byte y - 1, which the caller prefetches last.
inline void prefetch_range(const char* base, int64_t from, int64_t to, bool into_l1) {
  for (int64_t x = from; x < to; x += 64) {
    if (into_l1) {
      _mm_prefetch(base + x, _MM_HINT_T0);
    } else {
      _mm_prefetch(base + x, _MM_HINT_T1);
    }
  }
}

// G query heads [head0, head0 + G) sharing one KV head; kInt8 selects the int8 + scales caches.
//
// The positions go in chunks of up to kChunk. Per chunk:
//   1. scores of every position into p (16 per tile, K dimension-major), the lane-wise max on the side;
//   2. one horizontal max per head, one rescale of the accumulator if it grew, p = exp(s - max) in place;
//   3. p·V with the accumulator in registers, V rows read in order.
// So the horizontal reductions, the scalar exp and the rescale happen once per chunk instead of once per
// 16 positions, which matters for G = 1 (a tile is only 16 × head_dim MACs).
//
// Paged blocks lie anywhere in the arena, so the hardware prefetcher restarts at each one; the block
// table says where the next blocks are, so while block b's scores are computed the K (into L1) and V
// (into L2: it is read after the whole chunk's scores) of block b + kPrefetchBlocks are prefetched, a few
// lines per dimension step rather than in one burst that would stall on full miss buffers.
template <int G, bool kInt8>
bool attend_group(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table, int64_t num_positions,
                  int64_t head0, const NextUnit* next) {
  constexpr int64_t kElem = kInt8 ? 1 : 2;                  // bytes per cache value
  constexpr int kDepth = G == 1 ? 4 : 2;                    // score accumulators per head (FMA chains)
  constexpr int kDimChunks = G <= 2 ? 8 : G <= 4 ? 4 : 2;  // 16-dim accumulators per head in p·V
  const int64_t head_dim = a.head_dim, block_size = a.block_size;
  const int64_t kv_head = head0 / (a.n_heads / a.n_kv_heads);
  const int64_t num_chunks = (head_dim + 15) / 16;
  const __mmask16 last_chunk = head_dim % 16 ? static_cast<__mmask16>((1u << (head_dim % 16)) - 1) : 0xffff;
  const int64_t head_elems = head_dim * block_size;  // one (block, kv head) of K or of V
  const int64_t row_bytes = block_size * kElem;      // K bytes per dimension within a block
  const char* k_bytes = static_cast<const char*>(a.k_cache);
  const char* v_bytes = static_cast<const char*>(a.v_cache);
  const int64_t num_table_blocks = (num_positions + block_size - 1) / block_size;
  // Where block `b` of the table puts this KV head's K (and V: same offset in the other array), or -1 for a
  // bad id. Past this unit's last block, b goes on into the next unit's blocks. Only used to prefetch: the
  // id is checked again when it is read for use.
  const int64_t next_blocks =
      next != nullptr && next->block_table != nullptr ? (next->num_positions + block_size - 1) / block_size : 0;
  const auto prefetch_offset = [&](int64_t b) -> int64_t {
    const bool ours = b < num_table_blocks;
    if (!ours && b - num_table_blocks >= next_blocks) return -1;
    const int32_t block = ours ? block_table[b] : next->block_table[b - num_table_blocks];
    if (block < 0 || block >= a.num_blocks) return -1;
    return (block * a.n_kv_heads + (ours ? kv_head : next->kv_head)) * head_elems * kElem;
  };
  const float* q[G];  // G × (head_dim)
  for (int g = 0; g < G; g++) q[g] = a.q + (token * a.n_heads + head0 + g) * head_dim;
  alignas(64) float acc[G][kMaxAttentionHeadDim];  // (G, num_chunks * 16) sum of p·V at each head's max
  alignas(64) float p[G][kChunk + 16];              // (G, chunk) scores, then probabilities (int8: × V scale)
  alignas(64) float v_scale[kInt8 ? kChunk + 16 : 1];  // (chunk) int8 V scales of the chunk's positions
  int64_t base_of[kChunk];                          // (chunk blocks) element offset of each block's K/V
  float m[G];                                       // running max of the scores
  __m512 l[G];                                      // lane-wise running sum of exp(score - m)
  for (int g = 0; g < G; g++) {
    m[g] = -INFINITY;
    l[g] = _mm512_setzero_ps();
    for (int64_t c = 0; c < num_chunks; c++) _mm512_store_ps(acc[g] + c * 16, _mm512_setzero_ps());
  }
  const __m512 scale = _mm512_set1_ps(a.scale);
  // The first blocks have nobody before them to prefetch them, unless the previous unit did.
  for (int64_t b = next != nullptr && next->prefetched ? kPrefetchBlocks : 0; b < kPrefetchBlocks; b++) {
    const int64_t off = prefetch_offset(b);
    if (off < 0) break;
    prefetch_range(k_bytes + off, 0, head_elems * kElem, true);
    prefetch_range(v_bytes + off, 0, head_elems * kElem, false);
  }
  for (int64_t c0 = 0; c0 < num_positions; c0 += kChunk) {
    const int64_t c1 = num_positions - c0 < kChunk ? num_positions : c0 + kChunk;
    const int64_t b0 = c0 / block_size, b1 = (c1 - 1) / block_size + 1;  // table blocks [b0, b1) of the chunk
    // 1. Scores.
    __m512 s_max[G];
    for (int g = 0; g < G; g++) s_max[g] = _mm512_set1_ps(-INFINITY);
    for (int64_t b = b0; b < b1; b++) {
      const int32_t block = block_table[b];
      if (block < 0 || block >= a.num_blocks) return false;
      // K (head_dim, block_size) and V (block_size, head_dim) of this block and KV head start here.
      const int64_t base = (block * a.n_kv_heads + kv_head) * head_elems;
      base_of[b - b0] = base;
      const int64_t scales = (block * a.n_kv_heads + kv_head) * block_size;  // (block_size)
      const int64_t first = b * block_size < c0 ? c0 - b * block_size : 0;
      const int64_t valid = c1 - b * block_size < block_size ? c1 - b * block_size : block_size;
      // The block kPrefetchBlocks ahead, spread over the first tile's dimension loop.
      const int64_t ahead = first == 0 ? prefetch_offset(b + kPrefetchBlocks) : -1;
      for (int64_t t0 = first; t0 < valid; t0 += 16) {
        const int64_t len = valid - t0 < 16 ? valid - t0 : 16;
        const __mmask16 lanes = len == 16 ? 0xffff : static_cast<__mmask16>((1u << len) - 1);
        const bool prefetch = ahead >= 0 && t0 == first;
        __m512 s[kDepth][G];
        for (int j = 0; j < kDepth; j++)
          for (int g = 0; g < G; g++) s[j][g] = _mm512_setzero_ps();
        const int64_t kt = base + t0;
        int64_t d = 0;
        for (; d + kDepth <= head_dim; d += kDepth) {
          if (prefetch) {
            prefetch_range(k_bytes + ahead, d * row_bytes, (d + kDepth) * row_bytes, true);
            prefetch_range(v_bytes + ahead, d * row_bytes, (d + kDepth) * row_bytes, false);
          }
#pragma GCC unroll 4
          for (int j = 0; j < kDepth; j++) {
            const __m512 kv = load_values<kInt8>(a.k_cache, kt + (d + j) * block_size, lanes);
            for (int g = 0; g < G; g++) s[j][g] = _mm512_fmadd_ps(kv, _mm512_set1_ps(q[g][d + j]), s[j][g]);
          }
        }
        for (; d < head_dim; d++) {
          const __m512 kv = load_values<kInt8>(a.k_cache, kt + d * block_size, lanes);
          for (int g = 0; g < G; g++) s[0][g] = _mm512_fmadd_ps(kv, _mm512_set1_ps(q[g][d]), s[0][g]);
        }
        if (prefetch) {
          // Rows of the head_dim % kDepth tail, and the line holding the last byte.
          const int64_t from = (head_dim / kDepth) * kDepth * row_bytes, to = head_elems * kElem;
          prefetch_range(k_bytes + ahead, from, to, true);
          prefetch_range(v_bytes + ahead, from, to, false);
          _mm_prefetch(k_bytes + ahead + to - 1, _MM_HINT_T0);
          _mm_prefetch(v_bytes + ahead + to - 1, _MM_HINT_T1);
        }
        __m512 k_scale = _mm512_setzero_ps();
        const int64_t i = b * block_size + t0 - c0;  // index of the tile's first position in the chunk
        if constexpr (kInt8) {
          k_scale = _mm512_maskz_loadu_ps(lanes, a.k_scales + scales + t0);
          _mm512_mask_storeu_ps(v_scale + i, lanes, _mm512_maskz_loadu_ps(lanes, a.v_scales + scales + t0));
        }
        for (int g = 0; g < G; g++) {
          __m512 dot = s[0][g];
          for (int j = 1; j < kDepth; j++) dot = _mm512_add_ps(dot, s[j][g]);
          if constexpr (kInt8) dot = _mm512_mul_ps(dot, k_scale);
          const __m512 sc = _mm512_mul_ps(dot, scale);
          _mm512_mask_storeu_ps(p[g] + i, lanes, sc);
          s_max[g] = _mm512_mask_max_ps(s_max[g], lanes, s_max[g], sc);
        }
      }
    }
    // 2. Softmax numerators against each head's running max.
    const int64_t n = c1 - c0;
    for (int g = 0; g < G; g++) {
      softmax_chunk<kInt8>(p[g], n, v_scale, _mm512_reduce_max_ps(s_max[g]), m[g], l[g], acc[g], num_chunks);
    }
    // 3. p·V, kDimChunks 16-dimension chunks of every head's accumulator in registers per pass over V.
    for (int64_t cg = 0; cg < num_chunks; cg += kDimChunks) {
      const int64_t nc = num_chunks - cg < kDimChunks ? num_chunks - cg : kDimChunks;
      __mmask16 dims[kDimChunks];
      __m512 av[G][kDimChunks];
#pragma GCC unroll 8
      for (int j = 0; j < kDimChunks; j++) {
        dims[j] = cg + j == num_chunks - 1 ? last_chunk : 0xffff;
        for (int g = 0; g < G; g++) {
          av[g][j] = j < nc ? _mm512_load_ps(acc[g] + (cg + j) * 16) : _mm512_setzero_ps();
        }
      }
      for (int64_t b = b0; b < b1; b++) {
        const int64_t first = b * block_size < c0 ? c0 - b * block_size : 0;
        const int64_t valid = c1 - b * block_size < block_size ? c1 - b * block_size : block_size;
        const int64_t vrow = base_of[b - b0] + cg * 16;
        for (int64_t t = first; t < valid; t++) {
          const int64_t i = b * block_size + t - c0;
          const int64_t vt = vrow + t * head_dim;
#pragma GCC unroll 8
          for (int j = 0; j < kDimChunks; j++) {
            if (j < nc) {
              const __m512 vv = load_values<kInt8>(a.v_cache, vt + j * 16, dims[j]);
              for (int g = 0; g < G; g++) av[g][j] = _mm512_fmadd_ps(_mm512_set1_ps(p[g][i]), vv, av[g][j]);
            }
          }
        }
      }
#pragma GCC unroll 8
      for (int j = 0; j < kDimChunks; j++) {
        if (j < nc) {
          for (int g = 0; g < G; g++) _mm512_store_ps(acc[g] + (cg + j) * 16, av[g][j]);
        }
      }
    }
  }
  for (int g = 0; g < G; g++) {
    store_normalized(a.out + (token * a.n_heads + head0 + g) * head_dim, acc[g], l[g], num_chunks, last_chunk);
  }
  return true;
}

template <bool kInt8>
bool attend(int64_t g, const PagedAttentionArgs& a, int64_t token, const int32_t* block_table, int64_t num_positions,
            int64_t head0, const NextUnit* next) {
  switch (g) {
    case 1: return attend_group<1, kInt8>(a, token, block_table, num_positions, head0, next);
    case 2: return attend_group<2, kInt8>(a, token, block_table, num_positions, head0, next);
    case 3: return attend_group<3, kInt8>(a, token, block_table, num_positions, head0, next);
    case 4: return attend_group<4, kInt8>(a, token, block_table, num_positions, head0, next);
    case 5: return attend_group<5, kInt8>(a, token, block_table, num_positions, head0, next);
    case 6: return attend_group<6, kInt8>(a, token, block_table, num_positions, head0, next);
    case 7: return attend_group<7, kInt8>(a, token, block_table, num_positions, head0, next);
    default: return attend_group<8, kInt8>(a, token, block_table, num_positions, head0, next);
  }
}

// Heads [head0, head0 + count) of one token when every query head has its own KV head (no GQA). The same
// three steps per chunk of positions as attend_group<1> (shorter chunks), but walked block by block with the
// heads inside: a block's K for heads head0 .. head0 + count is
// one contiguous run of count × head_dim × block_size values (and likewise V), so the cache streams in long
// runs the hardware prefetchers follow, instead of one scattered (block, head) piece of a few kB at a time.
// While a block's scores are computed, the next block's K and V runs are prefetched into L2, a head's share
// per head (a block step is count × block_size × head_dim MACs: long enough to cover DRAM latency); past
// the last block, the next unit's first block. Chunks are short (kRunChunk positions) so the V runs
// prefetched during the scores step are still in L2 when p·V reads them (longer ones measured slower).
constexpr int64_t kRunChunk = 64;

template <bool kInt8>
bool attend_heads_blockwise(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                            int64_t num_positions, int64_t head0, int64_t count, const NextUnit* next) {
  constexpr int64_t kElem = kInt8 ? 1 : 2;  // bytes per cache value
  constexpr int kDepth = 4;                 // score accumulators (FMA chains)
  constexpr int kDimChunks = 8;             // 16-dim accumulators in registers per pass over V
  const int64_t head_dim = a.head_dim, block_size = a.block_size;
  const int64_t num_chunks = (head_dim + 15) / 16;
  const __mmask16 last_chunk = head_dim % 16 ? static_cast<__mmask16>((1u << (head_dim % 16)) - 1) : 0xffff;
  const int64_t head_elems = head_dim * block_size;  // one (block, kv head) of K or of V
  const int64_t head_bytes = head_elems * kElem;     // K (or V) bytes of one (block, kv head)
  const int64_t run_bytes = count * head_bytes;      // K (or V) bytes of one block's run of heads
  const char* k_bytes = static_cast<const char*>(a.k_cache);
  const char* v_bytes = static_cast<const char*>(a.v_cache);
  const int64_t num_table_blocks = (num_positions + block_size - 1) / block_size;
  const bool has_next = next != nullptr && next->block_table != nullptr && next->num_positions > 0;
  // Byte offset of block `b`'s run (block num_table_blocks: the next unit's first run), or -1. Only used to
  // prefetch: ids are checked again when read for use.
  const auto run_offset = [&](int64_t b) -> int64_t {
    const bool ours = b < num_table_blocks;
    if (!ours && (b > num_table_blocks || !has_next)) return -1;
    const int32_t block = ours ? block_table[b] : next->block_table[0];
    if (block < 0 || block >= a.num_blocks) return -1;
    const int64_t first_head = ours ? head0 : next->kv_head;
    return first_head < a.n_kv_heads ? (block * a.n_kv_heads + first_head) * head_bytes : -1;
  };
  // Prefetches stay inside the cache: the next unit's run may hold fewer heads than this one's.
  const int64_t cache_bytes = a.num_blocks * a.n_kv_heads * head_bytes;
  const auto prefetch_run = [&](int64_t off, int64_t from, int64_t to) {
    if (off + to > cache_bytes) to = cache_bytes - off;
    if (to <= from) return;
    prefetch_range(k_bytes + off, from, to, false);
    prefetch_range(v_bytes + off, from, to, false);
  };
  alignas(64) float acc[kMaxBlockwiseHeads][kMaxAttentionHeadDim];  // (count, num_chunks * 16) at each max
  alignas(64) float p[kMaxBlockwiseHeads][kRunChunk + 16];           // (count, chunk) scores, then probabilities
  alignas(64) float v_scale[kInt8 ? kMaxBlockwiseHeads : 1][kRunChunk + 16];  // (count, chunk) int8 V scales
  alignas(64) float s_max[kMaxBlockwiseHeads][16];                   // (count, 16) lane-wise max of the chunk
  // (blocks of the chunk) ids checked in step 1 and used again in step 3: the table is a caller's buffer that
  // may change while the kernel runs, so each id is read from it once.
  int64_t chunk_blocks[kRunChunk + 1];
  __m512 l[kMaxBlockwiseHeads];                                       // (count) lane-wise sums of exp
  float m[kMaxBlockwiseHeads];                                        // (count) running max of the scores
  for (int64_t i = 0; i < count; i++) {
    m[i] = -INFINITY;
    l[i] = _mm512_setzero_ps();
    for (int64_t c = 0; c < num_chunks; c++) _mm512_store_ps(acc[i] + c * 16, _mm512_setzero_ps());
  }
  const __m512 scale = _mm512_set1_ps(a.scale);
  if (next == nullptr || !next->prefetched) {
    const int64_t off = run_offset(0);
    if (off >= 0) prefetch_run(off, 0, run_bytes);
  }
  for (int64_t c0 = 0; c0 < num_positions; c0 += kRunChunk) {
    const int64_t c1 = num_positions - c0 < kRunChunk ? num_positions : c0 + kRunChunk;
    const int64_t b0 = c0 / block_size, b1 = (c1 - 1) / block_size + 1;  // table blocks [b0, b1) of the chunk
    // 1. Scores, blocks outside, heads inside.
    for (int64_t i = 0; i < count; i++) _mm512_store_ps(s_max[i], _mm512_set1_ps(-INFINITY));
    for (int64_t b = b0; b < b1; b++) {
      const int32_t block = block_table[b];
      if (block < 0 || block >= a.num_blocks) return false;
      chunk_blocks[b - b0] = block;
      const int64_t first = b * block_size < c0 ? c0 - b * block_size : 0;
      const int64_t valid = c1 - b * block_size < block_size ? c1 - b * block_size : block_size;
      // The next block's run, spread over the heads, once per block (at its first chunk).
      const int64_t ahead = first == 0 ? run_offset(b + 1) : -1;
      for (int64_t i = 0; i < count; i++) {
        if (ahead >= 0) prefetch_run(ahead, i * head_bytes, (i + 1) * head_bytes);
        const float* q = a.q + (token * a.n_heads + head0 + i) * head_dim;  // (head_dim)
        // K (head_dim, block_size) of this block and head starts here.
        const int64_t base = (block * a.n_kv_heads + head0 + i) * head_elems;
        const int64_t scales = (block * a.n_kv_heads + head0 + i) * block_size;  // (block_size)
        __m512 tile_max = _mm512_load_ps(s_max[i]);
        for (int64_t t0 = first; t0 < valid; t0 += 16) {
          const int64_t len = valid - t0 < 16 ? valid - t0 : 16;
          const __mmask16 lanes = len == 16 ? 0xffff : static_cast<__mmask16>((1u << len) - 1);
          __m512 s[kDepth];
          for (int j = 0; j < kDepth; j++) s[j] = _mm512_setzero_ps();
          const int64_t kt = base + t0;
          int64_t d = 0;
          for (; d + kDepth <= head_dim; d += kDepth) {
#pragma GCC unroll 4
            for (int j = 0; j < kDepth; j++) {
              const __m512 kv = load_values<kInt8>(a.k_cache, kt + (d + j) * block_size, lanes);
              s[j] = _mm512_fmadd_ps(kv, _mm512_set1_ps(q[d + j]), s[j]);
            }
          }
          for (; d < head_dim; d++) {
            const __m512 kv = load_values<kInt8>(a.k_cache, kt + d * block_size, lanes);
            s[0] = _mm512_fmadd_ps(kv, _mm512_set1_ps(q[d]), s[0]);
          }
          const int64_t idx = b * block_size + t0 - c0;  // the tile's first position in the chunk
          __m512 dot = s[0];
          for (int j = 1; j < kDepth; j++) dot = _mm512_add_ps(dot, s[j]);
          if constexpr (kInt8) {
            dot = _mm512_mul_ps(dot, _mm512_maskz_loadu_ps(lanes, a.k_scales + scales + t0));
            _mm512_mask_storeu_ps(v_scale[i] + idx, lanes, _mm512_maskz_loadu_ps(lanes, a.v_scales + scales + t0));
          }
          const __m512 sc = _mm512_mul_ps(dot, scale);
          _mm512_mask_storeu_ps(p[i] + idx, lanes, sc);
          tile_max = _mm512_mask_max_ps(tile_max, lanes, tile_max, sc);
        }
        _mm512_store_ps(s_max[i], tile_max);
      }
      if (ahead >= 0) {
        _mm_prefetch(k_bytes + ahead + run_bytes - 1, _MM_HINT_T1);
        _mm_prefetch(v_bytes + ahead + run_bytes - 1, _MM_HINT_T1);
      }
    }
    // 2. Softmax numerators against each head's running max.
    const int64_t n = c1 - c0;
    for (int64_t i = 0; i < count; i++) {
      softmax_chunk<kInt8>(p[i], n, v_scale[kInt8 ? i : 0], _mm512_reduce_max_ps(_mm512_load_ps(s_max[i])), m[i], l[i],
                           acc[i], num_chunks);
    }
    // 3. p·V, blocks outside, heads inside, kDimChunks 16-dimension chunks of a head's accumulator in
    // registers per pass over its V rows.
    for (int64_t b = b0; b < b1; b++) {
      const int64_t block = chunk_blocks[b - b0];  // read and checked in step 1
      const int64_t first = b * block_size < c0 ? c0 - b * block_size : 0;
      const int64_t valid = c1 - b * block_size < block_size ? c1 - b * block_size : block_size;
      for (int64_t i = 0; i < count; i++) {
        const int64_t base = (block * a.n_kv_heads + head0 + i) * head_elems;  // V (block_size, head_dim)
        for (int64_t cg = 0; cg < num_chunks; cg += kDimChunks) {
          const int64_t nc = num_chunks - cg < kDimChunks ? num_chunks - cg : kDimChunks;
          __mmask16 dims[kDimChunks];
          __m512 av[kDimChunks];
#pragma GCC unroll 8
          for (int j = 0; j < kDimChunks; j++) {
            dims[j] = cg + j == num_chunks - 1 ? last_chunk : 0xffff;
            av[j] = j < nc ? _mm512_load_ps(acc[i] + (cg + j) * 16) : _mm512_setzero_ps();
          }
          const int64_t vrow = base + cg * 16;
          for (int64_t t = first; t < valid; t++) {
            const __m512 pt = _mm512_set1_ps(p[i][b * block_size + t - c0]);
            const int64_t vt = vrow + t * head_dim;
#pragma GCC unroll 8
            for (int j = 0; j < kDimChunks; j++) {
              if (j < nc) av[j] = _mm512_fmadd_ps(pt, load_values<kInt8>(a.v_cache, vt + j * 16, dims[j]), av[j]);
            }
          }
#pragma GCC unroll 8
          for (int j = 0; j < kDimChunks; j++) {
            if (j < nc) _mm512_store_ps(acc[i] + (cg + j) * 16, av[j]);
          }
        }
      }
    }
  }
  for (int64_t i = 0; i < count; i++) {
    store_normalized(a.out + (token * a.n_heads + head0 + i) * head_dim, acc[i], l[i], num_chunks, last_chunk);
  }
  return true;
}

}  // namespace
}  // namespace avx512

bool paged_attention_heads_avx512(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                  int64_t num_positions, int64_t head_begin, int64_t head_count,
                                  const NextUnit* next) {
  using namespace avx512;
  for (int64_t h = head_begin; h < head_begin + head_count; h += kMaxGroup) {
    const int64_t g = head_begin + head_count - h < kMaxGroup ? head_begin + head_count - h : kMaxGroup;
    // Groups of one unit read the same K/V: only the first fetches it, only the last looks ahead to `next`.
    NextUnit unit_next = h + g >= head_begin + head_count && next != nullptr ? *next : NextUnit{};
    unit_next.prefetched = h == head_begin ? next != nullptr && next->prefetched : true;
    if (!(a.int8 ? attend<true>(g, a, token, block_table, num_positions, h, &unit_next)
                 : attend<false>(g, a, token, block_table, num_positions, h, &unit_next))) {
      return false;
    }
  }
  return true;
}

bool paged_attention_kv_heads_avx512(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                     int64_t num_positions, int64_t head_begin, int64_t head_count,
                                     const NextUnit* next) {
  using namespace avx512;
  // The kernel's per-head arrays hold kMaxBlockwiseHeads: the dispatcher's units never have more (refused, not
  // overrun, if that ever changed).
  if (head_count < 1 || head_count > kMaxBlockwiseHeads) return false;
  return a.int8 ? attend_heads_blockwise<true>(a, token, block_table, num_positions, head_begin, head_count, next)
                : attend_heads_blockwise<false>(a, token, block_table, num_positions, head_begin, head_count, next);
}

}  // namespace ternion
