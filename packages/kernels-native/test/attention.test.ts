import { describe, expect, it } from 'vitest';
import {
  forEachIsa,
  type KvCacheShape,
  kCacheIndex,
  kernelInfo,
  kvCacheElements,
  kvCopyBlocks,
  kvCopyBlocksAsync,
  kvCopyBlocksI8,
  kvScaleElements,
  kvScaleIndex,
  kvWrite,
  kvWriteAsync,
  kvWriteI8,
  pagedAttention,
  pagedAttentionAsync,
  pagedAttentionI8,
  recordProgram,
  vCacheIndex,
} from '../lib/index.js';
import { callPatched, forEachIsaAndThreads, randomF32 } from './helpers.js';
import {
  type AttentionBatch,
  f16ToF32,
  f16Values,
  f32ToF16,
  type Int8Caches,
  int8Values,
  kvWriteI8Reference,
  kvWriteReference,
  pagedAttentionReference,
  quantizeRowI8,
} from './reference/attention.js';

// Outputs are convex combinations of f16 V values in [-1, 1], computed in f32 (the reference in float64):
// summation order, the vector exp (relative error < 2e-7) and f32 rounding keep the error far below this.
const TOLERANCE = 2e-5;

// A small GQA layer (2 query heads per KV head) for the error and argument tests.
const GQA2_HEADS = { headDim: 64, nHeads: 4, nKvHeads: 2, blockSize: 16 };

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(rng: () => number, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}

function maxAbsDiff(a: Float32Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? Number.NaN) - (b[i] ?? 0)));
  return Number.isNaN(worst) ? Number.POSITIVE_INFINITY : worst;
}

interface Scenario {
  shape: KvCacheShape;
  kCache: Uint16Array;
  vCache: Uint16Array;
  batch: AttentionBatch;
  /** The same K/V written with kvWriteI8 (noise elsewhere). */
  i8: Int8Caches;
  /** Blocks no sequence uses yet. */
  spareBlocks: number[];
}

/**
 * Sequences of the given lengths whose blocks are scattered over a shuffled pool; the whole cache starts
 * as random f16 noise so a read from a wrong block shows. K/V of every cached position are written with
 * kvWrite. The batch holds the last `chunk` positions of sequence 0 (a causal prefill chunk) and the last
 * position of every other sequence (decode).
 */
function scenario(
  seed: number,
  o: {
    blockSize: number;
    nHeads: number;
    nKvHeads: number;
    headDim: number;
    seqLens: number[];
    chunk: number;
    scale?: number;
    /** Unused blocks in the arena besides 3 spares (more spreads the sequences' blocks further apart). */
    extraBlocks?: number;
  },
): Scenario {
  const rng = mulberry32(seed);
  const perSeq = o.seqLens.map((len) => Math.ceil(len / o.blockSize));
  const maxBlocksPerSeq = Math.max(...perSeq) + 1;
  const numBlocks = perSeq.reduce((a, b) => a + b, 0) + 3 + (o.extraBlocks ?? 0);
  const shape: KvCacheShape = { numBlocks, blockSize: o.blockSize, nKvHeads: o.nKvHeads, headDim: o.headDim };
  const elements = kvCacheElements(shape);
  const kCache = new Uint16Array(elements); // (numBlocks, nKvHeads, headDim, blockSize) f16
  const vCache = new Uint16Array(elements); // (numBlocks, nKvHeads, blockSize, headDim) f16
  for (let i = 0; i < elements; i++) {
    kCache[i] = f32ToF16((rng() * 2 - 1) * 4);
    vCache[i] = f32ToF16((rng() * 2 - 1) * 4);
  }
  const i8: Int8Caches = {
    k: Int8Array.from({ length: elements }, () => Math.floor(rng() * 255) - 127),
    kScales: Float32Array.from({ length: kvScaleElements(shape) }, () => rng() / 64),
    v: Int8Array.from({ length: elements }, () => Math.floor(rng() * 255) - 127),
    vScales: Float32Array.from({ length: kvScaleElements(shape) }, () => rng() / 64),
  };
  const pool = shuffle(rng, [...Array(numBlocks).keys()]);
  const blockTables = new Int32Array(o.seqLens.length * maxBlocksPerSeq).fill(-1); // (numSeqs, maxBlocksPerSeq)
  o.seqLens.forEach((_, s) => {
    for (let b = 0; b < (perSeq[s] ?? 0); b++) blockTables[s * maxBlocksPerSeq + b] = pool.pop() ?? -1;
  });
  const row = o.nKvHeads * o.headDim;
  o.seqLens.forEach((len, s) => {
    const slots = new Int32Array(len); // (len)
    for (let p = 0; p < len; p++)
      slots[p] =
        (blockTables[s * maxBlocksPerSeq + Math.floor(p / o.blockSize)] ?? 0) * o.blockSize +
        (p % o.blockSize);
    const k = randomF32(len * row, rng, 1.5);
    const v = randomF32(len * row, rng, 1);
    kvWrite(kCache, vCache, numBlocks, o.blockSize, o.nKvHeads, o.headDim, k, v, slots, len);
    kvWriteI8(...int8CacheArgs(i8), numBlocks, o.blockSize, o.nKvHeads, o.headDim, k, v, slots, len);
  });
  const tokenSeq: number[] = [];
  const tokenPos: number[] = [];
  for (let p = (o.seqLens[0] ?? 0) - o.chunk; p < (o.seqLens[0] ?? 0); p++) {
    tokenSeq.push(0);
    tokenPos.push(p);
  }
  o.seqLens.slice(1).forEach((len, s) => {
    tokenSeq.push(s + 1);
    tokenPos.push(len - 1);
  });
  const n = tokenSeq.length;
  return {
    shape,
    kCache,
    vCache,
    batch: {
      nHeads: o.nHeads,
      q: randomF32(n * o.nHeads * o.headDim, rng, 1.5),
      blockTables,
      maxBlocksPerSeq,
      tokenSeq: Int32Array.from(tokenSeq),
      tokenPos: Int32Array.from(tokenPos),
      n,
      scale: o.scale ?? 1 / Math.sqrt(o.headDim),
    },
    i8,
    spareBlocks: pool,
  };
}

/** Zeroed int8 caches of `shape`. */
function int8Caches(shape: KvCacheShape): Int8Caches {
  return {
    k: new Int8Array(kvCacheElements(shape)), // (numBlocks, nKvHeads, headDim, blockSize)
    kScales: new Float32Array(kvScaleElements(shape)), // (numBlocks, nKvHeads, blockSize)
    v: new Int8Array(kvCacheElements(shape)), // (numBlocks, nKvHeads, blockSize, headDim)
    vScales: new Float32Array(kvScaleElements(shape)), // (numBlocks, nKvHeads, blockSize)
  };
}

/** The int8 caches as the int8 kernels take them: kCache, kScales, vCache, vScales. */
function int8CacheArgs(c: Int8Caches) {
  return [c.k, c.kScales, c.v, c.vScales] as const;
}

/** pagedAttention's arguments for the scenario's batch over its f16 caches. */
function attentionArgs(
  s: Scenario,
  out: Float32Array,
  status?: Int32Array,
): Parameters<typeof pagedAttention> {
  const { shape: c, batch: b } = s;
  const dims = [c.numBlocks, c.blockSize, b.nHeads, c.nKvHeads, c.headDim] as const;
  const batch = [b.blockTables, b.maxBlocksPerSeq, b.tokenSeq, b.tokenPos, b.n, b.scale] as const;
  return [b.q, s.kCache, s.vCache, ...dims, ...batch, out, status];
}

/** pagedAttentionI8's arguments for the same batch over the int8 caches. */
function attentionI8Args(
  s: Scenario,
  out: Float32Array,
  status?: Int32Array,
): Parameters<typeof pagedAttentionI8> {
  // pagedAttention's arguments without its caches and its trailing f16Probs.
  const a = attentionArgs(s, out, status);
  return [
    a[0],
    ...int8CacheArgs(s.i8),
    a[3],
    a[4],
    a[5],
    a[6],
    a[7],
    a[8],
    a[9],
    a[10],
    a[11],
    a[12],
    a[13],
    a[14],
    a[15],
  ];
}

function attend(s: Scenario, out: Float32Array, status?: Int32Array): void {
  pagedAttention(...attentionArgs(s, out, status));
}

describe('kvWrite', () => {
  it('rounds f32 to f16 to nearest even, bit-exact with the reference, and stores in the documented layout', () => {
    const rng = mulberry32(1);
    const shape: KvCacheShape = { numBlocks: 5, blockSize: 7, nKvHeads: 3, headDim: 20 };
    const n = 12;
    const k = new Float32Array(n * 3 * 20); // (n, nKvHeads, headDim)
    const v = new Float32Array(n * 3 * 20);
    const specials = [
      0,
      -0,
      1,
      -1,
      65504,
      65519.99,
      65520,
      -65520,
      1e9,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.NaN,
      2 ** -14,
      2 ** -24,
      2 ** -25,
      3 * 2 ** -26,
      2 ** -25 + 2 ** -40,
      1e-30,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      2049,
      2051,
    ];
    for (let i = 0; i < k.length; i++) {
      // Wide magnitudes (subnormal to overflow), ties and special values.
      k[i] = i < specials.length ? (specials[i] ?? 0) : (rng() * 2 - 1) * 2 ** Math.floor(rng() * 44 - 28);
      v[i] = i < specials.length ? -(specials[i] ?? 0) : (rng() * 2 - 1) * 2 ** Math.floor(rng() * 44 - 28);
    }
    const slots = Int32Array.from(shuffle(rng, [...Array(35).keys()]).slice(0, n)); // scattered over blocks
    const kCache = new Uint16Array(kvCacheElements(shape)).fill(0x1234);
    const vCache = new Uint16Array(kvCacheElements(shape)).fill(0x1234);
    const kExpected = kCache.slice();
    const vExpected = vCache.slice();
    expect(kvWriteReference(shape, kExpected, vExpected, k, v, slots, n)).toEqual([]);
    kvWrite(kCache, vCache, 5, 7, 3, 20, k, v, slots, n);
    expect(kCache).toEqual(kExpected);
    expect(vCache).toEqual(vExpected);
    // Spot checks of the oracle itself.
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal → 0
    expect(f32ToF16(3 * 2 ** -26)).toBe(1);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    const slot = slots[4] ?? 0;
    expect(f16ToF32(kCache[kCacheIndex(shape, slot, 2, 19)] ?? 0)).toBe(
      f16ToF32(f32ToF16(k[(4 * 3 + 2) * 20 + 19] ?? 0)),
    );
    expect(f16ToF32(vCache[vCacheIndex(shape, slot, 1, 3)] ?? 0)).toBe(
      f16ToF32(f32ToF16(v[(4 * 3 + 1) * 20 + 3] ?? 0)),
    );
  });

  it('skips out-of-range slots without touching memory, then throws (sync) or rejects (async)', async () => {
    const shape: KvCacheShape = { numBlocks: 3, blockSize: 4, nKvHeads: 2, headDim: 8 };
    const rng = mulberry32(2);
    const k = randomF32(5 * 16, rng, 1);
    const v = randomF32(5 * 16, rng, 1);
    const slots = Int32Array.from([3, -1, 12, 0x7fffffff, 11]);
    // The caches sit inside a larger buffer so a stray write past either end would show in the guard bands.
    const size = kvCacheElements(shape); // 192
    const backing = new Uint16Array(2 * size + 64).fill(0xabcd);
    const kCache = backing.subarray(16, 16 + size);
    const vCache = backing.subarray(size + 48, 2 * size + 48);
    const expected = backing.slice();
    const expectedK = expected.subarray(16, 16 + size);
    const expectedV = expected.subarray(size + 48, 2 * size + 48);
    expect(kvWriteReference(shape, expectedK, expectedV, k, v, slots, 5)).toEqual([1, 2, 3]);
    expect(() => kvWrite(kCache, vCache, 3, 4, 2, 8, k, v, slots, 5)).toThrow(
      /3 slot\(s\) outside \[0, 12\).*slots\[1\] = -1/,
    );
    expect(backing).toEqual(expected);
    const status = new Int32Array(2);
    await expect(kvWriteAsync(kCache, vCache, 3, 4, 2, 8, k, v, slots, 5, status)).rejects.toThrow(
      RangeError,
    );
    expect([...status]).toEqual([3, 1]);
    expect(backing).toEqual(expected);
    await kvWriteAsync(kCache, vCache, 3, 4, 2, 8, k, v, slots, 1, status);
    expect([...status]).toEqual([0, -1]);
  });

  it('reads slots when a recorded program runs and reports bad ones through status', () => {
    const shape: KvCacheShape = { numBlocks: 2, blockSize: 4, nKvHeads: 1, headDim: 16 };
    const rng = mulberry32(3);
    const k = randomF32(2 * 16, rng, 1);
    const v = randomF32(2 * 16, rng, 1);
    const slots = new Int32Array(2); // recorded while zero; values set before each run
    const status = new Int32Array(2);
    const kCache = new Uint16Array(kvCacheElements(shape));
    const vCache = new Uint16Array(kvCacheElements(shape));
    const program = recordProgram(() => kvWrite(kCache, vCache, 2, 4, 1, 16, k, v, slots, 2, status));
    expect(kCache.every((x) => x === 0)).toBe(true); // recording runs nothing
    slots.set([5, 2]);
    program.run();
    expect([...status]).toEqual([0, -1]);
    const kExpected = new Uint16Array(kCache.length);
    const vExpected = new Uint16Array(vCache.length);
    kvWriteReference(shape, kExpected, vExpected, k, v, slots, 2);
    expect(kCache).toEqual(kExpected);
    expect(vCache).toEqual(vExpected);
    slots.set([8, 1]);
    program.run(); // a replay never throws; it reports
    expect([...status]).toEqual([1, 0]);
    kvWriteReference(shape, kExpected, vExpected, k, v, slots, 2);
    expect(kCache).toEqual(kExpected);
  });

  it('rejects bad arguments with TypeError / RangeError before running', () => {
    const c = new Uint16Array(64);
    const x = new Float32Array(32);
    const s = new Int32Array(2);
    expect(() => kvWrite(new Float32Array(64) as unknown as Uint16Array, c, 2, 4, 1, 8, x, x, s, 2)).toThrow(
      TypeError,
    );
    expect(() => kvWrite(c, c.slice(0, 63), 2, 4, 1, 8, x, x, s, 2)).toThrow(
      /vCache has 63 elements, at least 64/,
    );
    expect(() => kvWrite(c, c, 2, 4, 1, 8, x, new Float64Array(32) as unknown as Float32Array, s, 2)).toThrow(
      TypeError,
    );
    expect(() => kvWrite(c, c.slice(), 2, 4, 1, 8, x.subarray(0, 15), x, s, 2)).toThrow(
      /k has 15 elements, at least 16/,
    );
    expect(() => kvWrite(c, c.slice(), 2, 4, 1, 8, x, x, [0, 1] as unknown as Int32Array, 2)).toThrow(
      TypeError,
    );
    expect(() => kvWrite(c, c.slice(), 2, 4, 1, 8.5, x, x, s, 2)).toThrow(TypeError);
    expect(() => kvWrite(c, c.slice(), 0, 4, 1, 8, x, x, s, 2)).toThrow(RangeError);
    expect(() => kvWrite(c, c.slice(), 2, 4, 1, 513, x, x, s, 2)).toThrow(/headDim must be in \[1, 512\]/);
    expect(() => kvWrite(c, c.slice(), 2, 4, 1, 8, x, x, s, 2, new Int32Array(1))).toThrow(
      /status has 1 elements/,
    );
    expect(() => kvWrite(c, c, 2, 4, 1, 8, x, x, s, 2)).toThrow(/kCache and vCache must not overlap/);
  });

  it('splits big writes over the pool bit-exactly, later tokens winning a repeated slot, bad slots counted once', () => {
    // 64 tokens × 5 KV heads × 100 dims is big enough to go parallel; 5 heads split unevenly over 2 or 3
    // threads, and 100 dims leave a tail after the 8-wide F16C conversion.
    const rng = mulberry32(31);
    const shape: KvCacheShape = { numBlocks: 9, blockSize: 16, nKvHeads: 5, headDim: 100 };
    const n = 64;
    const k = new Float32Array(n * 5 * 100); // (n, nKvHeads, headDim)
    const v = new Float32Array(n * 5 * 100);
    const specials = [
      0,
      -0,
      65504,
      65520,
      Number.POSITIVE_INFINITY,
      Number.NaN,
      2 ** -24,
      2 ** -25,
      1 + 2 ** -11,
    ];
    for (let i = 0; i < k.length; i++) {
      k[i] =
        i % 97 < specials.length
          ? (specials[i % 97] ?? 0)
          : (rng() * 2 - 1) * 2 ** Math.floor(rng() * 40 - 26);
      v[i] = (rng() * 2 - 1) * 2 ** Math.floor(rng() * 40 - 26);
    }
    const capacity = shape.numBlocks * shape.blockSize; // 144
    const slots = Int32Array.from(shuffle(rng, [...Array(capacity).keys()]).slice(0, n));
    slots[50] = slots[10] ?? 0; // token 50 overwrites token 10's slot
    slots[3] = -1;
    slots[20] = capacity;
    slots[33] = -7;
    const kExpected = new Uint16Array(kvCacheElements(shape)).fill(0x1234);
    const vExpected = new Uint16Array(kvCacheElements(shape)).fill(0x1234);
    expect(kvWriteReference(shape, kExpected, vExpected, k, v, slots, n)).toEqual([3, 20, 33]);
    const i8Expected = int8Caches(shape);
    expect(kvWriteI8Reference(shape, i8Expected, k, v, slots, n)).toEqual([3, 20, 33]);
    forEachIsaAndThreads([1, 2, 3], (isa, threads) => {
      const kCache = new Uint16Array(kvCacheElements(shape)).fill(0x1234);
      const vCache = new Uint16Array(kvCacheElements(shape)).fill(0x1234);
      const status = new Int32Array(2);
      expect(() => kvWrite(kCache, vCache, 9, 16, 5, 100, k, v, slots, n, status), isa).toThrow(
        /3 slot\(s\) outside \[0, 144\).*slots\[3\] = -1/,
      );
      expect([...status], `${isa}, ${threads} threads`).toEqual([3, 3]);
      expect(kCache, `${isa}, ${threads} threads`).toEqual(kExpected);
      expect(vCache, `${isa}, ${threads} threads`).toEqual(vExpected);
      const i8 = int8Caches(shape);
      expect(() => kvWriteI8(...int8CacheArgs(i8), 9, 16, 5, 100, k, v, slots, n, status)).toThrow(
        RangeError,
      );
      expect([...status], `int8 ${isa}, ${threads} threads`).toEqual([3, 3]);
      expect(i8, `int8 ${isa}, ${threads} threads`).toEqual(i8Expected);
    });
  });
});

describe('kvCopyBlocks', () => {
  it('copies whole blocks of K and V in order, skipping and reporting bad block ids', async () => {
    const shape: KvCacheShape = { numBlocks: 4, blockSize: 3, nKvHeads: 2, headDim: 5 };
    const size = kvCacheElements(shape);
    const blockElems = size / 4;
    const kCache = Uint16Array.from({ length: size }, (_, i) => i);
    const vCache = Uint16Array.from({ length: size }, (_, i) => 50000 - i);
    const kBefore = kCache.slice();
    const vBefore = vCache.slice();
    const block = (a: Uint16Array, b: number) => [...a.subarray(b * blockElems, (b + 1) * blockElems)];
    kvCopyBlocks(kCache, vCache, 4, 3, 2, 5, Int32Array.from([2, 0, 0, 3, 1, 1]), 3); // 2→0, then (new) 0→3
    expect(block(kCache, 0)).toEqual(block(kBefore, 2));
    expect(block(kCache, 3)).toEqual(block(kBefore, 2));
    expect(block(vCache, 3)).toEqual(block(vBefore, 2));
    expect(block(kCache, 1)).toEqual(block(kBefore, 1));
    expect(block(kCache, 2)).toEqual(block(kBefore, 2));
    const copies = Int32Array.from([1, 4, 1, 2, -1, 0]);
    expect(() => kvCopyBlocks(kCache, vCache, 4, 3, 2, 5, copies, 3)).toThrow(
      /2 copy\(ies\).*copy 0 \(1 → 4\)/,
    );
    expect(block(vCache, 2)).toEqual(block(vBefore, 1)); // the good copy ran
    expect(block(vCache, 0)).toEqual(block(vBefore, 2)); // the bad ones did not
    const status = new Int32Array(2);
    await expect(kvCopyBlocksAsync(kCache, vCache, 4, 3, 2, 5, copies, 3, status)).rejects.toThrow(
      RangeError,
    );
    expect([...status]).toEqual([2, 0]);
    expect(() => kvCopyBlocks(kCache, vCache, 4, 3, 2, 5, copies, 4)).toThrow(
      /copies has 6 elements, at least 8/,
    );
    expect(() => kvCopyBlocks(kCache, kCache, 4, 3, 2, 5, copies, 0)).toThrow(/must not overlap/);
  });
});

describe('pagedAttention', () => {
  const shapes = [
    { headDim: 64, nHeads: 4, nKvHeads: 4, blockSize: 16, seqLens: [37, 1, 80, 16] }, // GQA 1
    { headDim: 128, nHeads: 8, nKvHeads: 4, blockSize: 16, seqLens: [50, 33, 17, 128] }, // GQA 2
    { headDim: 128, nHeads: 8, nKvHeads: 2, blockSize: 32, seqLens: [70, 2, 96, 31] }, // GQA 4
    { headDim: 64, nHeads: 20, nKvHeads: 5, blockSize: 16, seqLens: [40, 300] }, // 2B-4T ratio, long decode
    { headDim: 40, nHeads: 6, nKvHeads: 2, blockSize: 5, seqLens: [23, 9, 1] }, // ragged head and block tails
    { headDim: 72, nHeads: 18, nKvHeads: 1, blockSize: 24, seqLens: [60, 45] }, // MQA: 18 heads, 8+8+2 groups
  ];

  for (const [i, o] of shapes.entries()) {
    it(`matches the reference: headDim ${o.headDim}, ${o.nHeads}/${o.nKvHeads} heads, blockSize ${o.blockSize}, seqs ${o.seqLens.join(',')}`, () => {
      const s = scenario(100 + i, { ...o, chunk: Math.min(9, o.seqLens[0] ?? 1) });
      const expected = pagedAttentionReference(s.shape, f16Values(s.shape, s.kCache, s.vCache), s.batch);
      forEachIsaAndThreads([1, 2], (isa, threads) => {
        const out = new Float32Array(expected.length).fill(Number.NaN);
        attend(s, out);
        expect(maxAbsDiff(out, expected), `${isa}, ${threads} threads`).toBeLessThan(TOLERANCE);
      });
    });
  }

  // Decode batches like the 700m model's (16 heads of 96 dims, no GQA), whose sequence lengths straddle the
  // 16-position tiles and the kernels' 256-position score chunks, over an arena 8x larger than the blocks in
  // use so consecutive blocks of a sequence lie far apart; and prefill chunks that cross a score chunk.
  const decodeShapes = [
    { headDim: 96, nHeads: 8, nKvHeads: 8, blockSize: 16, seqLens: [1, 300, 15, 16, 17, 256, 257, 2] },
    { headDim: 72, nHeads: 4, nKvHeads: 4, blockSize: 16, seqLens: [270, 31, 512, 513, 48, 7] },
    { headDim: 40, nHeads: 8, nKvHeads: 1, blockSize: 24, seqLens: [262, 530, 257, 241] }, // G = 8
    { headDim: 96, nHeads: 4, nKvHeads: 2, blockSize: 7, seqLens: [300, 259, 30] }, // G = 2, odd blocks
    { headDim: 200, nHeads: 2, nKvHeads: 2, blockSize: 16, seqLens: [270, 5] }, // p·V in two passes over V
    // No GQA, more heads than one block-wise unit takes (16 + 4), blocks of 10 (tiles cross block ends).
    { headDim: 24, nHeads: 20, nKvHeads: 20, blockSize: 10, seqLens: [130, 70, 5, 11] },
  ];
  for (const [i, o] of decodeShapes.entries()) {
    it(`matches the reference on a scattered decode batch: headDim ${o.headDim}, ${o.nHeads}/${o.nKvHeads} heads, blockSize ${o.blockSize}, seqs ${o.seqLens.join(',')}`, () => {
      const blocks = o.seqLens.reduce((a, len) => a + Math.ceil(len / o.blockSize), 0);
      // Sequence 0 also runs a 12-token prefill chunk whose last tokens see past a multiple of 256.
      const s = scenario(300 + i, { ...o, chunk: Math.min(12, o.seqLens[0] ?? 1), extraBlocks: 7 * blocks });
      const expected = pagedAttentionReference(s.shape, f16Values(s.shape, s.kCache, s.vCache), s.batch);
      const expectedI8 = pagedAttentionReference(s.shape, int8Values(s.shape, s.i8), s.batch);
      forEachIsaAndThreads([1, 2], (isa, threads) => {
        const out = new Float32Array(expected.length).fill(Number.NaN);
        attend(s, out);
        expect(maxAbsDiff(out, expected), `f16 ${isa}, ${threads} threads`).toBeLessThan(TOLERANCE);
        out.fill(Number.NaN);
        pagedAttentionI8(...attentionI8Args(s, out));
        expect(maxAbsDiff(out, expectedI8), `int8 ${isa}, ${threads} threads`).toBeLessThan(TOLERANCE);
      });
    });
  }

  // The continuous-batching decode step of the 700m model: 16 sequences with short contexts (mostly not
  // multiples of the block size), one token each, 16 heads of 96 dims without GQA: 256 small (token, head)
  // units that the pool splits into ranges of equal cost, each unit prefetching the next one's first blocks.
  it('matches the reference on a decode step of many short sequences (16 × 16 heads × 96 dims, 12–60 positions)', () => {
    const seqLens = [12, 15, 16, 19, 22, 25, 28, 31, 32, 38, 41, 44, 48, 51, 57, 60];
    const o = { headDim: 96, nHeads: 16, nKvHeads: 16, blockSize: 16, seqLens, chunk: 1 };
    const blocks = seqLens.reduce((a, len) => a + Math.ceil(len / 16), 0);
    // Sequence 0 sits in the batch like the others (a one-token "chunk").
    const s = scenario(340, { ...o, extraBlocks: 4 * blocks });
    const expected = pagedAttentionReference(s.shape, f16Values(s.shape, s.kCache, s.vCache), s.batch);
    const expectedI8 = pagedAttentionReference(s.shape, int8Values(s.shape, s.i8), s.batch);
    forEachIsaAndThreads([1, 2, 3], (isa, threads) => {
      const out = new Float32Array(expected.length).fill(Number.NaN);
      attend(s, out);
      expect(maxAbsDiff(out, expected), `f16 ${isa}, ${threads} threads`).toBeLessThan(TOLERANCE);
      out.fill(Number.NaN);
      pagedAttentionI8(...attentionI8Args(s, out));
      expect(maxAbsDiff(out, expectedI8), `int8 ${isa}, ${threads} threads`).toBeLessThan(TOLERANCE);
    });
  });

  // Decode batches (one token per sequence) with long contexts take the AVX-512 block-wise kernel when there
  // is no GQA: runs of up to 16 heads per unit (20 heads: 16 + 4), 64-position chunks, blocks of 10 whose
  // tiles cross block ends, 200 dims (p·V in two passes), and a bad block id in the middle of a table.
  const longDecodeShapes = [
    { headDim: 96, nHeads: 16, nKvHeads: 16, blockSize: 16, seqLens: [300, 129, 257, 64, 200, 1] },
    { headDim: 24, nHeads: 20, nKvHeads: 20, blockSize: 10, seqLens: [130, 70, 200, 301] },
    { headDim: 200, nHeads: 3, nKvHeads: 3, blockSize: 16, seqLens: [150, 190, 65] },
  ];
  for (const [i, o] of longDecodeShapes.entries()) {
    it(`matches the reference on a long-context decode batch: headDim ${o.headDim}, ${o.nHeads} heads, blockSize ${o.blockSize}, seqs ${o.seqLens.join(',')}`, () => {
      const blocks = o.seqLens.reduce((a, len) => a + Math.ceil(len / o.blockSize), 0);
      const s = scenario(360 + i, { ...o, chunk: 1, extraBlocks: 3 * blocks });
      const b = s.batch;
      b.blockTables[1 * b.maxBlocksPerSeq + 5] = -1; // token 1: a bad id past its first chunk
      const expected = pagedAttentionReference(s.shape, f16Values(s.shape, s.kCache, s.vCache), b);
      const expectedI8 = pagedAttentionReference(s.shape, int8Values(s.shape, s.i8), b);
      forEachIsaAndThreads([1, 2, 3], (isa, threads) => {
        const status = new Int32Array(2);
        const out = new Float32Array(expected.length).fill(Number.NaN);
        expect(() => attend(s, out, status)).toThrow(RangeError);
        expect([...status], `f16 ${isa}, ${threads} threads`).toEqual([1, 1]);
        expect(maxAbsDiff(out, expected), `f16 ${isa}, ${threads} threads`).toBeLessThan(TOLERANCE);
        out.fill(Number.NaN);
        expect(() => pagedAttentionI8(...attentionI8Args(s, out, status))).toThrow(RangeError);
        expect(maxAbsDiff(out, expectedI8), `int8 ${isa}, ${threads} threads`).toBeLessThan(TOLERANCE);
      });
    });
  }

  it('zeroes a bad token between good ones of a short decode run without disturbing its neighbours', () => {
    // The units before a bad token look ahead into its table (prefetch only); the bad ids must neither be
    // used nor stop the next good token.
    const seqLens = [20, 33, 17, 40, 9, 50, 26, 31];
    const s = scenario(341, { headDim: 96, nHeads: 4, nKvHeads: 4, blockSize: 16, seqLens, chunk: 1 });
    const b = s.batch;
    b.blockTables[2 * b.maxBlocksPerSeq] = -5; // token 2: its first block id
    b.blockTables[5 * b.maxBlocksPerSeq + 3] = 0x7fffffff; // token 5: its last block id
    b.tokenSeq[6] = 99; // token 6: no such sequence row
    const expected = pagedAttentionReference(s.shape, f16Values(s.shape, s.kCache, s.vCache), b);
    forEachIsaAndThreads([1, 2, 3], (isa, threads) => {
      const out = new Float32Array(expected.length).fill(Number.NaN);
      const status = new Int32Array(2);
      expect(() => pagedAttention(...attentionArgs(s, out, status))).toThrow(
        /3 token\(s\).*first is token 2/,
      );
      expect([...status], `${isa}, ${threads} threads`).toEqual([3, 2]);
      expect(maxAbsDiff(out, expected), `${isa}, ${threads} threads`).toBeLessThan(TOLERANCE);
    });
  });

  it('rounds the probabilities to f16 like llama.cpp when asked (f16Probs), on every ISA', () => {
    const o = { headDim: 96, nHeads: 4, nKvHeads: 2, blockSize: 16, seqLens: [70, 5, 33] };
    const s = scenario(900, { ...o, chunk: 9 });
    const values = f16Values(s.shape, s.kCache, s.vCache);
    const expected = pagedAttentionReference(s.shape, values, s.batch, { f16Probs: true });
    const plain = pagedAttentionReference(s.shape, values, s.batch);
    // The rounding is visible: the two references differ by far more than the tolerance somewhere.
    let differ = 0;
    for (let i = 0; i < plain.length; i++) differ = Math.max(differ, Math.abs(plain[i]! - expected[i]!));
    expect(differ).toBeGreaterThan(10 * TOLERANCE);
    forEachIsaAndThreads([1, 2], (isa, threads) => {
      const out = new Float32Array(expected.length).fill(Number.NaN);
      const args = attentionArgs(s, out);
      args[16] = true; // f16Probs
      pagedAttention(...args);
      expect(maxAbsDiff(out, expected), `${isa}, ${threads} threads`).toBeLessThan(TOLERANCE);
    });
    const badProbs = attentionArgs(s, new Float32Array(expected.length));
    badProbs[16] = 1 as never; // f16Probs must be a boolean
    expect(() => pagedAttention(...badProbs)).toThrow(TypeError);
  });

  it('matches the reference for every sequence length from 1 to 300 in one decode batch', () => {
    const seqLens = Array.from({ length: 300 }, (_, i) => 300 - i);
    const s = scenario(320, { headDim: 20, nHeads: 2, nKvHeads: 2, blockSize: 16, seqLens, chunk: 1 });
    const expected = pagedAttentionReference(s.shape, f16Values(s.shape, s.kCache, s.vCache), s.batch);
    forEachIsaAndThreads([1, 2], (isa, threads) => {
      const out = new Float32Array(expected.length).fill(Number.NaN);
      attend(s, out);
      expect(maxAbsDiff(out, expected), `${isa}, ${threads} threads`).toBeLessThan(TOLERANCE);
    });
  });

  it('stays finite and exact with peaked softmax (large scores need the max subtraction)', () => {
    const s = scenario(7, {
      headDim: 128,
      nHeads: 4,
      nKvHeads: 2,
      blockSize: 16,
      seqLens: [90, 40],
      chunk: 5,
      scale: 4,
    });
    const expected = pagedAttentionReference(s.shape, f16Values(s.shape, s.kCache, s.vCache), s.batch);
    forEachIsa((isa) => {
      const out = new Float32Array(expected.length);
      attend(s, out);
      expect(maxAbsDiff(out, expected), isa).toBeLessThan(TOLERANCE);
    });
  });

  it('zeroes tokens with an out-of-range row, position or block id, computes the rest, and reports them', async () => {
    const s = scenario(8, { ...GQA2_HEADS, seqLens: [20, 30, 40, 50, 60], chunk: 1 });
    const b = s.batch;
    const c = s.shape;
    // Token 1 → a sequence row that does not exist; token 2 → negative position; token 3 → a position past
    // maxBlocksPerSeq blocks; token 4's sequence has a block id equal to numBlocks (a corrupt table).
    b.tokenSeq[1] = 5;
    b.tokenPos[2] = -3;
    b.tokenPos[3] = b.maxBlocksPerSeq * c.blockSize;
    b.blockTables[4 * b.maxBlocksPerSeq + 2] = c.numBlocks;
    const expected = pagedAttentionReference(c, f16Values(c, s.kCache, s.vCache), b);
    const row = b.nHeads * c.headDim;
    for (const t of [1, 2, 3, 4])
      expect(expected.subarray(t * row, (t + 1) * row).every((x) => x === 0)).toBe(true);
    forEachIsa((isa) => {
      const out = new Float32Array(expected.length).fill(Number.NaN);
      expect(() => attend(s, out), isa).toThrow(/4 token\(s\).*first is token 1 \(tokenSeq = 5 of 5 rows/);
      expect(maxAbsDiff(out, expected), isa).toBeLessThan(TOLERANCE);
    });
    const status = new Int32Array(2);
    const out = new Float32Array(expected.length);
    await expect(pagedAttentionAsync(...attentionArgs(s, out, status))).rejects.toThrow(RangeError);
    expect([...status]).toEqual([4, 1]);
    expect(maxAbsDiff(out, expected)).toBeLessThan(TOLERANCE);
  });

  it('replays a recorded kvWrite + pagedAttention step with new positions, slots and block tables', async () => {
    const s = scenario(9, {
      headDim: 128,
      nHeads: 20,
      nKvHeads: 5,
      blockSize: 16,
      seqLens: [31, 47],
      chunk: 1,
    });
    const { shape: c, batch: b } = s;
    const row = c.nKvHeads * c.headDim;
    const rng = mulberry32(10);
    const k = new Float32Array(b.n * row); // (n, nKvHeads, headDim) written before each run
    const v = new Float32Array(b.n * row);
    const slots = new Int32Array(b.n); // (n)
    const status = new Int32Array(2);
    const out = new Float32Array(b.n * b.nHeads * c.headDim); // (n, nHeads, headDim)
    const program = recordProgram(() => {
      kvWrite(s.kCache, s.vCache, c.numBlocks, c.blockSize, c.nKvHeads, c.headDim, k, v, slots, b.n);
      attend(s, out, status);
    });
    expect(program.length).toBe(2);
    // Three decode steps: each token appends one position (the block tables have a spare block per row).
    for (let step = 0; step < 3; step++) {
      for (let t = 0; t < b.n; t++) {
        const pos = (b.tokenPos[t] ?? 0) + 1;
        b.tokenPos[t] = pos;
        const seq = b.tokenSeq[t] ?? 0;
        const blockIndex = seq * b.maxBlocksPerSeq + Math.floor(pos / c.blockSize);
        if ((b.blockTables[blockIndex] ?? -1) < 0) b.blockTables[blockIndex] = s.spareBlocks.pop() ?? -1;
        slots[t] = (b.blockTables[blockIndex] ?? 0) * c.blockSize + (pos % c.blockSize);
      }
      k.set(randomF32(k.length, rng, 1.5));
      v.set(randomF32(v.length, rng, 1));
      b.q.set(randomF32(b.q.length, rng, 1.5));
      if (step === 2) await program.runAsync();
      else program.run();
      expect([...status]).toEqual([0, -1]);
      const refK = s.kCache.slice();
      const refV = s.vCache.slice();
      kvWriteReference(c, refK, refV, k, v, slots, b.n);
      expect(s.kCache).toEqual(refK);
      expect(s.vCache).toEqual(refV);
      expect(maxAbsDiff(out, pagedAttentionReference(c, f16Values(c, s.kCache, s.vCache), b))).toBeLessThan(
        TOLERANCE,
      );
    }
    b.tokenSeq[0] = -1; // a bad row on replay: reported, never thrown
    program.run();
    expect([...status]).toEqual([1, 0]);
  });

  it('handles n = 0 and the async call', async () => {
    const s = scenario(11, {
      headDim: 64,
      nHeads: 2,
      nKvHeads: 1,
      blockSize: 16,
      seqLens: [18, 3],
      chunk: 2,
    });
    const { shape: c, batch: b } = s;
    const out = new Float32Array(b.n * b.nHeads * c.headDim);
    const none = attentionArgs(s, out);
    none[12] = 0; // n
    pagedAttention(...none);
    expect(out.every((x) => x === 0)).toBe(true);
    await pagedAttentionAsync(...attentionArgs(s, out));
    expect(maxAbsDiff(out, pagedAttentionReference(c, f16Values(c, s.kCache, s.vCache), b))).toBeLessThan(
      TOLERANCE,
    );
  });

  it('rejects bad arguments with TypeError / RangeError before running', () => {
    const s = scenario(12, { ...GQA2_HEADS, seqLens: [18, 3], chunk: 1 });
    const { shape: c, batch: b } = s;
    const out = new Float32Array(b.n * b.nHeads * c.headDim);
    const call = (patch: (a: Parameters<typeof pagedAttention>) => void) =>
      callPatched(pagedAttention, attentionArgs(s, out), patch);
    expect(call(() => {})).not.toThrow();
    expect(call((a) => (a[0] = new Float64Array(b.q.length) as unknown as Float32Array))).toThrow(
      /q must be a Float32Array/,
    );
    expect(call((a) => (a[0] = b.q.subarray(1)))).toThrow(/q has .* elements/);
    expect(call((a) => (a[1] = new Int16Array(s.kCache.length) as unknown as Uint16Array))).toThrow(
      TypeError,
    );
    expect(call((a) => (a[2] = s.vCache.subarray(1)))).toThrow(/vCache has/);
    expect(call((a) => (a[5] = 3))).toThrow(/nHeads \(3\) must be a multiple of nKvHeads \(2\)/);
    expect(call((a) => (a[7] = 1024))).toThrow(RangeError);
    expect(call((a) => (a[8] = new Int32Array(1)))).toThrow(/blockTables has 1 elements/);
    expect(call((a) => (a[10] = new Uint32Array(b.n) as unknown as Int32Array))).toThrow(
      /tokenSeq must be an Int32Array/,
    );
    expect(call((a) => (a[11] = b.tokenPos.subarray(1)))).toThrow(/tokenPos has/);
    expect(call((a) => (a[12] = -1))).toThrow(RangeError);
    expect(call((a) => (a[13] = Number.NaN))).toThrow(/scale must be a finite number/);
    expect(call((a) => (a[14] = out.subarray(1)))).toThrow(/out has/);
    const shared = new Float32Array(b.q.length);
    expect(
      call((a) => {
        a[0] = shared;
        a[14] = shared;
      }),
    ).toThrow(/out and q must not overlap/);
    expect(call((a) => (a[15] = new Int32Array(1)))).toThrow(/status has 1 elements/);
    expect(kernelInfo().kernels.paged_attention).toBeTypeOf('string');
  });
});

describe('int8 KV cache', () => {
  it('kvCopyBlocksI8 copies the blocks of K, V and both scale arrays', () => {
    const s = scenario(220, { headDim: 16, nHeads: 2, nKvHeads: 2, blockSize: 4, seqLens: [8, 5], chunk: 1 });
    const { numBlocks, blockSize, nKvHeads, headDim } = s.shape;
    const before = {
      k: s.i8.k.slice(),
      kScales: s.i8.kScales.slice(),
      v: s.i8.v.slice(),
      vScales: s.i8.vScales.slice(),
    };
    const [src, dst] = [s.spareBlocks[0] ?? 0, s.spareBlocks[1] ?? 0];
    const copy = (copies: Int32Array) =>
      kvCopyBlocksI8(...int8CacheArgs(s.i8), numBlocks, blockSize, nKvHeads, headDim, copies, 1);
    copy(Int32Array.of(src, dst));
    const per = blockSize * nKvHeads;
    const block = <T extends Int8Array | Float32Array>(a: T, b: number, size: number) => [
      ...a.subarray(b * size, (b + 1) * size),
    ];
    expect(block(s.i8.k, dst, per * headDim)).toEqual(block(before.k, src, per * headDim));
    expect(block(s.i8.v, dst, per * headDim)).toEqual(block(before.v, src, per * headDim));
    expect(block(s.i8.kScales, dst, per)).toEqual(block(before.kScales, src, per));
    expect(block(s.i8.vScales, dst, per)).toEqual(block(before.vScales, src, per));
    s.i8.k.set(before.k.subarray(dst * per * headDim, (dst + 1) * per * headDim), dst * per * headDim);
    s.i8.v.set(before.v.subarray(dst * per * headDim, (dst + 1) * per * headDim), dst * per * headDim);
    s.i8.kScales.set(before.kScales.subarray(dst * per, (dst + 1) * per), dst * per);
    s.i8.vScales.set(before.vScales.subarray(dst * per, (dst + 1) * per), dst * per);
    expect(s.i8).toEqual(before); // nothing else changed
    expect(() => copy(Int32Array.of(numBlocks, 0))).toThrow(/kvCopyBlocksI8: 1 copy\(ies\)/);
    expect(s.i8).toEqual(before);
  });

  it('kvWriteI8 quantises each (token, head) row bit-exactly with the reference rule', () => {
    const rng = mulberry32(21);
    const shape: KvCacheShape = { numBlocks: 3, blockSize: 5, nKvHeads: 2, headDim: 24 };
    const n = 7;
    const k = randomF32(n * 2 * 24, rng, 3); // (n, nKvHeads, headDim)
    const v = randomF32(n * 2 * 24, rng, 0.01);
    k.fill(0, 0, 24); // an all-zero row: scale 0
    k[30] = Number.NaN; // NaN quantises to 0 and leaves the scale alone
    v.set([1, 0.5, -0.25, -1], 48); // 0.5 · 127 = 63.5 → 64 (nearest even); -0.25 · 127 = -31.75 → -32
    const slots = Int32Array.from([14, 0, 7, 3, 9, 11, 5]);
    const mk = (): Int8Caches => ({
      k: new Int8Array(kvCacheElements(shape)),
      kScales: new Float32Array(kvScaleElements(shape)),
      v: new Int8Array(kvCacheElements(shape)),
      vScales: new Float32Array(kvScaleElements(shape)),
    });
    const got = mk();
    const want = mk();
    kvWriteI8(...int8CacheArgs(got), 3, 5, 2, 24, k, v, slots, n);
    expect(kvWriteI8Reference(shape, want, k, v, slots, n)).toEqual([]);
    expect(got).toEqual(want);
    expect(got.kScales[kvScaleIndex(shape, 14, 0)]).toBe(0);
    expect(quantizeRowI8(Float32Array.of(1, 0.5, -1)).q).toEqual(Int8Array.of(127, 64, -127));
    const good: Parameters<typeof kvWriteI8> = [...int8CacheArgs(got), 3, 5, 2, 24, k, v, slots, n];
    const call = (patch: (a: Parameters<typeof kvWriteI8>) => void) => callPatched(kvWriteI8, good, patch);
    expect(
      call((a) => {
        a[10] = Int32Array.of(15); // slots
        a[11] = 1; // n
      }),
    ).toThrow(/kvWriteI8: 1 slot\(s\) outside \[0, 15\)/);
    expect(call((a) => (a[0] = new Uint8Array(got.k.length) as unknown as Int8Array))).toThrow(
      /kCache must be an Int8Array/,
    );
    expect(call((a) => (a[1] = got.kScales.subarray(1)))).toThrow(/kScales has 29 elements, at least 30/);
  });

  const shapes = [
    { headDim: 128, nHeads: 20, nKvHeads: 5, blockSize: 16, seqLens: [40, 130, 7] },
    { headDim: 64, nHeads: 8, nKvHeads: 2, blockSize: 32, seqLens: [33, 64] },
    { headDim: 40, nHeads: 3, nKvHeads: 3, blockSize: 5, seqLens: [12, 2] },
  ];
  for (const [i, o] of shapes.entries()) {
    it(`pagedAttentionI8 matches the reference: headDim ${o.headDim}, ${o.nHeads}/${o.nKvHeads} heads, blockSize ${o.blockSize}`, () => {
      const s = scenario(200 + i, { ...o, chunk: 4 });
      const { shape: c, batch: b } = s;
      const expected = pagedAttentionReference(c, int8Values(c, s.i8), b);
      // Sanity check of the quantisation itself: int8 stays close to the f16 result on these rows.
      const f16 = pagedAttentionReference(c, f16Values(c, s.kCache, s.vCache), b);
      expect(maxAbsDiff(Float32Array.from(expected), f16)).toBeLessThan(0.03);
      forEachIsaAndThreads([1, 2], (isa, threads) => {
        const out = new Float32Array(expected.length).fill(Number.NaN);
        pagedAttentionI8(...attentionI8Args(s, out));
        expect(maxAbsDiff(out, expected), `${isa}, ${threads} threads`).toBeLessThan(TOLERANCE);
      });
    });
  }

  it('pagedAttentionI8 zeroes and reports tokens with bad ids and validates its arguments', () => {
    const s = scenario(210, { ...GQA2_HEADS, seqLens: [20, 30], chunk: 2 });
    const { shape: c, batch: b } = s;
    b.blockTables[0] = -5;
    const out = new Float32Array(b.n * b.nHeads * c.headDim).fill(Number.NaN);
    const status = new Int32Array(2);
    expect(() => pagedAttentionI8(...attentionI8Args(s, out, status))).toThrow(
      /pagedAttentionI8: 2 token\(s\)/,
    );
    expect([...status]).toEqual([2, 0]);
    expect(maxAbsDiff(out, pagedAttentionReference(c, int8Values(c, s.i8), b))).toBeLessThan(TOLERANCE);
    const i8Call = (patch: (a: Parameters<typeof pagedAttentionI8>) => void) =>
      callPatched(pagedAttentionI8, attentionI8Args(s, out), patch);
    expect(i8Call((a) => (a[4] = s.i8.vScales.subarray(2)))).toThrow(/vScales has/);
    expect(i8Call((a) => (a[1] = s.kCache as unknown as Int8Array))).toThrow(TypeError);
  });
});
