// Plain TypeScript oracles for the attention kernels: f16 conversion, the paged KV layout and attention
// itself, written for clarity (float64, two-pass softmax) rather than speed.
import { type KvCacheShape, kCacheIndex, kvScaleIndex, vCacheIndex } from '../../lib/attention.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 → IEEE binary16 bits, round to nearest even (integer arithmetic only, so no double rounding). */
export function f32ToF16(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const ax = x & 0x7fffffff;
  if (ax > 0x7f800000) return sign | 0x7e00 | ((ax >>> 13) & 0x3ff); // NaN stays NaN, quiet
  if (ax >= 0x477ff000) return sign | 0x7c00; // ≥ 65520 (and ∞) → ∞
  const exponent = ax >>> 23;
  if (exponent >= 113) {
    // Normal half: keep 10 mantissa bits, round the dropped 13 to nearest even.
    let half = ((exponent - 112) << 10) | ((ax >>> 13) & 0x3ff);
    const dropped = ax & 0x1fff;
    if (dropped > 0x1000 || (dropped === 0x1000 && (half & 1) === 1)) half += 1; // a carry may bump the exponent: correct
    return sign | half;
  }
  // Subnormal half: value / 2^-24 rounded to nearest even, computed on the 24-bit significand.
  if (exponent === 0) return sign; // float subnormals are far below half's smallest step
  const significand = (ax & 0x7fffff) | 0x800000;
  const shift = 126 - exponent; // significand · 2^(exponent − 150) / 2^−24 = significand >> shift
  if (shift > 24) return sign;
  const kept = significand >>> shift;
  const rest = significand - kept * 2 ** shift;
  const halfway = 2 ** (shift - 1);
  const rounded = rest > halfway || (rest === halfway && (kept & 1) === 1) ? kept + 1 : kept;
  return sign | rounded;
}

/** IEEE binary16 bits → number (exact). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/**
 * The loop both kvWrite oracles share: `write(i, slot, kvHead)` for every KV head of every token whose slot
 * is in range; returns the indices of the tokens skipped for a bad slot.
 */
function forEachWrittenRow(
  shape: KvCacheShape,
  slots: Int32Array, // (n)
  n: number,
  write: (i: number, slot: number, kvHead: number) => void,
): number[] {
  const skipped: number[] = [];
  for (let i = 0; i < n; i++) {
    const slot = slots[i] ?? -1;
    if (slot < 0 || slot >= shape.numBlocks * shape.blockSize) {
      skipped.push(i);
      continue;
    }
    for (let h = 0; h < shape.nKvHeads; h++) write(i, slot, h);
  }
  return skipped;
}

/** kvWrite oracle: writes into the given caches in place; returns the indices of skipped (bad-slot) tokens. */
export function kvWriteReference(
  shape: KvCacheShape,
  kCache: Uint16Array,
  vCache: Uint16Array,
  k: Float32Array, // (n, nKvHeads, headDim)
  v: Float32Array, // (n, nKvHeads, headDim)
  slots: Int32Array, // (n)
  n: number,
): number[] {
  return forEachWrittenRow(shape, slots, n, (i, slot, h) => {
    for (let d = 0; d < shape.headDim; d++) {
      const src = (i * shape.nKvHeads + h) * shape.headDim + d;
      kCache[kCacheIndex(shape, slot, h, d)] = f32ToF16(k[src] ?? 0);
      vCache[vCacheIndex(shape, slot, h, d)] = f32ToF16(v[src] ?? 0);
    }
  });
}

export interface AttentionBatch {
  nHeads: number;
  q: Float32Array; // (n, nHeads, headDim)
  blockTables: Int32Array; // (numSeqs, maxBlocksPerSeq)
  maxBlocksPerSeq: number;
  tokenSeq: Int32Array; // (n)
  tokenPos: Int32Array; // (n)
  n: number;
  scale: number;
}

/** How the oracle reads the cache: the real value of K and V at (slot, kvHead, dim). */
export interface KvValues {
  k(slot: number, kvHead: number, dim: number): number;
  v(slot: number, kvHead: number, dim: number): number;
}

export function f16Values(shape: KvCacheShape, kCache: Uint16Array, vCache: Uint16Array): KvValues {
  return {
    k: (slot, h, d) => f16ToF32(kCache[kCacheIndex(shape, slot, h, d)] ?? 0),
    v: (slot, h, d) => f16ToF32(vCache[vCacheIndex(shape, slot, h, d)] ?? 0),
  };
}

export function int8Values(shape: KvCacheShape, c: Int8Caches): KvValues {
  return {
    k: (slot, h, d) =>
      (c.k[kCacheIndex(shape, slot, h, d)] ?? 0) * (c.kScales[kvScaleIndex(shape, slot, h)] ?? 0),
    v: (slot, h, d) =>
      (c.v[vCacheIndex(shape, slot, h, d)] ?? 0) * (c.vScales[kvScaleIndex(shape, slot, h)] ?? 0),
  };
}

/**
 * pagedAttention oracle in float64 over the cached values; tokens with an out-of-range row, position or
 * block id get zero output. Returns (n, nHeads, headDim).
 */
export function pagedAttentionReference(
  shape: KvCacheShape,
  values: KvValues,
  b: AttentionBatch,
  options: { f16Probs?: boolean } = {},
): Float64Array {
  const { numBlocks, blockSize, nKvHeads, headDim } = shape;
  const group = b.nHeads / nKvHeads;
  const numSeqs = Math.floor(b.blockTables.length / b.maxBlocksPerSeq);
  const out = new Float64Array(b.n * b.nHeads * headDim); // (n, nHeads, headDim)
  for (let i = 0; i < b.n; i++) {
    const seq = b.tokenSeq[i] ?? -1;
    const pos = b.tokenPos[i] ?? -1;
    if (seq < 0 || seq >= numSeqs || pos < 0 || Math.floor(pos / blockSize) >= b.maxBlocksPerSeq) continue;
    const slots: number[] = [];
    let valid = true;
    for (let p = 0; p <= pos; p++) {
      const block = b.blockTables[seq * b.maxBlocksPerSeq + Math.floor(p / blockSize)] ?? -1;
      if (block < 0 || block >= numBlocks) valid = false;
      slots.push(block * blockSize + (p % blockSize));
    }
    if (!valid) continue;
    for (let h = 0; h < b.nHeads; h++) {
      const kvHead = Math.floor(h / group);
      const scores = slots.map((slot) => {
        let dot = 0;
        for (let d = 0; d < headDim; d++)
          dot += (b.q[(i * b.nHeads + h) * headDim + d] ?? 0) * values.k(slot, kvHead, d);
        return b.scale * dot;
      });
      const max = Math.max(...scores);
      let weights = scores.map((s) => Math.exp(s - max));
      let sum = weights.reduce((a, w) => a + w, 0);
      if (options.f16Probs) {
        // llama.cpp: normalised probabilities, rounded to f16, times the f16 V values
        weights = weights.map((w) => f16ToF32(f32ToF16(w / sum)));
        sum = 1;
      }
      for (let d = 0; d < headDim; d++) {
        let acc = 0;
        for (let t = 0; t < slots.length; t++) acc += (weights[t] ?? 0) * values.v(slots[t] ?? 0, kvHead, d);
        out[(i * b.nHeads + h) * headDim + d] = acc / sum;
      }
    }
  }
  return out;
}

// --- int8 caches -----------------------------------------------------------------------------------------

export interface Int8Caches {
  k: Int8Array; // (numBlocks, nKvHeads, headDim, blockSize)
  kScales: Float32Array; // (numBlocks, nKvHeads, blockSize)
  v: Int8Array; // (numBlocks, nKvHeads, blockSize, headDim)
  vScales: Float32Array; // (numBlocks, nKvHeads, blockSize)
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The kernel's int8 row rule in f32 arithmetic: scale = max|x| / 127, q = rne(x · (127 / max|x|)). */
export function quantizeRowI8(x: Float32Array): { q: Int8Array; scale: number } {
  let amax = 0;
  for (const value of x) {
    // biome-ignore lint/complexity/useMathMinMax: Math.max would keep a NaN; the kernel's comparison skips it
    amax = Math.abs(value) > amax ? Math.abs(value) : amax;
  }
  const inv = amax > 0 ? Math.fround(127 / amax) : 0;
  const q = new Int8Array(x.length);
  x.forEach((value, d) => {
    const r = roundHalfEven(Math.fround(value * inv));
    q[d] = Number.isNaN(r) ? 0 : Math.max(-127, Math.min(127, r));
  });
  return { q, scale: Math.fround(amax / 127) };
}

/** kvWriteI8 oracle: writes in place; returns the indices of skipped (bad-slot) tokens. */
export function kvWriteI8Reference(
  shape: KvCacheShape,
  c: Int8Caches,
  k: Float32Array, // (n, nKvHeads, headDim)
  v: Float32Array, // (n, nKvHeads, headDim)
  slots: Int32Array, // (n)
  n: number,
): number[] {
  const { nKvHeads, headDim } = shape;
  return forEachWrittenRow(shape, slots, n, (i, slot, h) => {
    const row = (i * nKvHeads + h) * headDim;
    const kq = quantizeRowI8(k.subarray(row, row + headDim));
    const vq = quantizeRowI8(v.subarray(row, row + headDim));
    c.kScales[kvScaleIndex(shape, slot, h)] = kq.scale;
    c.vScales[kvScaleIndex(shape, slot, h)] = vq.scale;
    for (let d = 0; d < headDim; d++) {
      c.k[kCacheIndex(shape, slot, h, d)] = kq.q[d] ?? 0;
      c.v[vCacheIndex(shape, slot, h, d)] = vq.q[d] ?? 0;
    }
  });
}
