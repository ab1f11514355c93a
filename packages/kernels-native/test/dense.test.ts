import { describe, expect, it } from 'vitest';
import {
  embeddingGather,
  embeddingGatherAsync,
  forEachIsa,
  kernelInfo,
  matmulF16,
  matmulF16Async,
  matmulF32,
  matmulF32Async,
  matmulI8,
  matmulI8Async,
  matmulI8ScratchBytes,
  matmulQ8_0,
  matmulQ8_0Async,
  q8_0Bytes,
  quantizeRowsI8,
  quantizeRowsI8Async,
  recordProgram,
} from '../lib/index.js';
import { detach, forEachIsaAndThreads, randomF32, rng } from './helpers.js';
import {
  f16ToF32,
  matmulI8Reference,
  matmulReference,
  q8_0At,
  quantizeRowReference,
  randomF16,
  randomQ8_0,
  worstErrorRatio,
} from './reference/dense.js';

// Ragged shapes: n covers the decode (n < 4) stream kernels and the GEMM x tiles (AVX-512 float: up to 6
// rows, split evenly, so 13 = 5 + 4 + 4 and 17 = 6 + 6 + 5; int8 and AVX2: 4 rows plus a remainder); m covers
// 4-row weight tiles with 1..3 leftover rows, several 16-row blocks (each prefetching the next) and a thread
// split; k covers every vector tail (8, 16, 32, 64 lanes) and lengths of one partial vector.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 37, 100],
  [2, 5, 7],
  [3, 19, 33],
  [5, 23, 17],
  [7, 40, 130],
  [4, 33, 64],
  [9, 18, 257],
  [2, 13, 300], // decode-sized n: the single-stream kernels, several unrolled steps plus a tail
  [1, 9, 1000],
  [5, 6, 5], // a single x tile of 5 rows, a 4-row weight tile and 2 leftover rows, k shorter than one vector
  [8, 37, 129], // two 4-row x tiles
  [13, 21, 95],
  [16, 42, 250], // the batched-decode shape: 6 + 5 + 5 rows
  [17, 35, 33],
  [33, 50, 161], // six x tiles, four 16-row blocks, 2 leftover weight rows
];

/** Copies `src` into a fresh buffer at byte offset `offset`, like a tensor view inside a mapped GGUF file. */
function atOffset<T extends Uint8Array | Uint16Array>(src: T, offset: number): T {
  const buffer = new ArrayBuffer(src.byteLength + offset);
  const Ctor = src.constructor as new (b: ArrayBuffer, o: number, l: number) => T;
  const view = new Ctor(buffer, offset, src.length);
  view.set(src as never);
  return view;
}

describe('matmulF32 / matmulF16 / matmulQ8_0', () => {
  it('match the double-precision reference within (k + 2)·2^-24·Σ|w·x| on every ISA and thread count', () => {
    const rand = rng(1);
    for (const [n, m, k] of SHAPES) {
      const x = randomF32(n * k, rand); // (n, k)
      const wF32 = randomF32(m * k, rand); // (m, k)
      const wF16 = atOffset(randomF16(m * k, rand), 2); // (m, k) half bits, 2-byte aligned view
      const refF32 = matmulReference((j, c) => wF32[j * k + c]!, x, n, m, k);
      const refF16 = matmulReference((j, c) => f16ToF32(wF16[j * k + c]!), x, n, m, k);
      const kq = Math.ceil(k / 32) * 32;
      const xq = randomF32(n * kq, rand); // (n, kq)
      const wQ8 = atOffset(randomQ8_0(m, kq, rand), 1); // unaligned blocks
      const refQ8 = matmulReference((j, c) => q8_0At(wQ8, kq, j, c), xq, n, m, kq);
      forEachIsaAndThreads([1, 2], (isa) => {
        const y = new Float32Array(n * m).fill(Number.NaN); // (n, m)
        matmulF32(wF32, x, n, m, k, y);
        expect(worstErrorRatio(y, refF32, k), `f32 ${isa} ${n}x${m}x${k}`).toBeLessThanOrEqual(1);
        y.fill(Number.NaN);
        matmulF16(wF16, x, n, m, k, y);
        expect(worstErrorRatio(y, refF16, k), `f16 ${isa} ${n}x${m}x${k}`).toBeLessThanOrEqual(1);
        y.fill(Number.NaN);
        matmulQ8_0(wQ8, xq, n, m, kq, y);
        expect(worstErrorRatio(y, refQ8, kq), `q8_0 ${isa} ${n}x${m}x${kq}`).toBeLessThanOrEqual(1);
      });
    }
  });

  it('reuses weights across a prefill-sized batch (n = 64) without drifting from the reference', () => {
    const rand = rng(2);
    const [n, m, k] = [64, 21, 96];
    const x = randomF32(n * k, rand);
    const w = randomF16(m * k, rand);
    const ref = matmulReference((j, c) => f16ToF32(w[j * k + c]!), x, n, m, k);
    forEachIsa((isa) => {
      const y = new Float32Array(n * m);
      matmulF16(w, x, n, m, k, y);
      expect(worstErrorRatio(y, ref, k), isa).toBeLessThanOrEqual(1);
    });
  });

  it('runs off the JS thread with the same result', async () => {
    const rand = rng(3);
    const [n, m, k] = [3, 29, 70];
    const x = randomF32(n * k, rand);
    const w = randomF16(m * k, rand);
    const ySync = new Float32Array(n * m);
    const yAsync = new Float32Array(n * m);
    matmulF16(w, x, n, m, k, ySync);
    await matmulF16Async(w, x, n, m, k, yAsync);
    expect(yAsync).toEqual(ySync);
    const w32 = Float32Array.from(w, f16ToF32);
    matmulF32(w32, x, n, m, k, ySync);
    await matmulF32Async(w32, x, n, m, k, yAsync);
    expect(yAsync).toEqual(ySync);
    const kq = 64;
    const q8 = randomQ8_0(m, kq, rand);
    const xq = randomF32(n * kq, rand);
    matmulQ8_0(q8, xq, n, m, kq, ySync);
    await matmulQ8_0Async(q8, xq, n, m, kq, yAsync);
    expect(yAsync).toEqual(ySync);
    await expect(matmulF16Async(w, x, n, m, k, new Float32Array(1))).rejects.toThrow(RangeError);
  });

  it('rejects bad arguments with TypeError / RangeError', () => {
    const w = new Float32Array(12);
    const x = new Float32Array(8);
    const y = new Float32Array(6);
    expect(() => matmulF32(w, x, 2, 3, 4, y)).not.toThrow();
    expect(() => matmulF32(new Float64Array(12) as never, x, 2, 3, 4, y)).toThrow(TypeError);
    expect(() => matmulF32(w, x, 2, 3, 4, new Float32Array(5))).toThrow(RangeError);
    expect(() => matmulF32(w.subarray(1), x, 2, 3, 4, y)).toThrow(/w has 11 elements/);
    expect(() => matmulF32(w, x, 0, 3, 4, y)).toThrow(RangeError);
    expect(() => matmulF32(w, x, 1.5, 3, 4, y)).toThrow(TypeError);
    expect(() => matmulF32(w, detach(new Float32Array(16)), 2, 3, 4, y)).toThrow(/detached/);
    expect(() => matmulF16(new Uint16Array(12), x, 2, 3, 4, y.subarray(0, 5))).toThrow(/y has 5 elements/);
    expect(() => matmulF16(w as never, x, 2, 3, 4, y)).toThrow(TypeError);
    // Y overlapping X is refused by the native layer (the kernel would read what it already wrote).
    const shared = new Float32Array(64);
    expect(() => matmulF32(w, shared.subarray(0, 8), 2, 3, 4, shared.subarray(4, 10))).toThrow(
      /must not overlap/,
    );
    expect(() => matmulQ8_0(new Uint8Array(q8_0Bytes(3, 32)), new Float32Array(64), 2, 3, 30, y)).toThrow(
      /multiple of 32/,
    );
    expect(() => matmulQ8_0(new Uint8Array(q8_0Bytes(3, 32) - 1), new Float32Array(64), 2, 3, 32, y)).toThrow(
      RangeError,
    );
  });
});

describe('int8 path', () => {
  it('quantizeRowsI8 matches the reference bit for bit (f32 and f16 sources)', () => {
    const rand = rng(4);
    const [m, k] = [41, 75];
    const wF32 = randomF32(m * k, rand, 3);
    wF32.fill(0, 5 * k, 6 * k); // an all-zero row has scale 0
    // Row 7: scale exactly 1, so these land on .5 ties (round half to even) and a NaN (→ -127).
    wF32.set([127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, Number.NaN, 126.5], 7 * k);
    wF32[9 * k + 3] = Number.POSITIVE_INFINITY; // row 9: scale inf, every q is -127 (inf · 0 = NaN) or 0
    const wF16 = randomF16(m * k, rand);
    for (const [kind, w] of [
      ['f32', wF32],
      ['f16', wF16],
    ] as const) {
      const values = kind === 'f32' ? wF32 : Float32Array.from(wF16, f16ToF32);
      const wantQ = new Int8Array(m * k);
      const wantS = new Float32Array(m);
      for (let j = 0; j < m; j++)
        wantS[j] = quantizeRowReference(values.subarray(j * k, (j + 1) * k), k, wantQ, j * k);
      if (kind === 'f32') {
        expect(wantS[5]).toBe(0);
        expect([...wantQ.subarray(7 * k, 7 * k + 9)]).toEqual([127, 0, 2, 2, 0, -2, -2, -127, 126]);
      }
      forEachIsa(() => {
        const q = new Int8Array(m * k);
        const s = new Float32Array(m);
        quantizeRowsI8(w, kind, m, k, q, s);
        expect(q).toEqual(wantQ);
        expect(s).toEqual(wantS);
      });
    }
  });

  it('matmulI8 is bit-exact against the reference on every ISA, shape and thread count', () => {
    const rand = rng(5);
    for (const [n, m, k] of [...SHAPES, [6, 45, 200] as [number, number, number]]) {
      const wf = randomF32(m * k, rand);
      const w = new Int8Array(m * k);
      const ws = new Float32Array(m);
      quantizeRowsI8(wf, 'f32', m, k, w, ws);
      const x = randomF32(n * k, rand, 4);
      if (n > 2) x.fill(0, k, 2 * k); // a zero activation row
      const want = matmulI8Reference(w, ws, x, n, m, k);
      const scratch = new Int8Array(matmulI8ScratchBytes(n, k) + 1).subarray(1); // odd address
      forEachIsaAndThreads([1, 2], (isa) => {
        const y = new Float32Array(n * m).fill(Number.NaN);
        matmulI8(w, ws, x, n, m, k, y, scratch);
        expect(y, `${isa} ${n}x${m}x${k}`).toEqual(want);
      });
    }
  });

  it('approximates the float product within the int8 rounding bound', async () => {
    const rand = rng(7);
    const [n, m, k] = [3, 17, 500];
    const wf = randomF32(m * k, rand);
    const x = randomF32(n * k, rand, 2);
    const w = new Int8Array(m * k);
    const ws = new Float32Array(m);
    await quantizeRowsI8Async(wf, 'f32', m, k, w, ws);
    const y = new Float32Array(n * m);
    const scratch = new Int8Array(matmulI8ScratchBytes(n, k));
    matmulI8(w, ws, x, n, m, k, y, scratch);
    const exact = matmulReference((j, c) => wf[j * k + c]!, x, n, m, k).y;
    const absMax = (a: Float32Array) => a.reduce((mx, v) => Math.max(mx, Math.abs(v)), 0);
    const absSum = (a: Float32Array) => a.reduce((s, v) => s + Math.abs(v), 0);
    for (let i = 0; i < n; i++) {
      const xi = x.subarray(i * k, (i + 1) * k);
      for (let j = 0; j < m; j++) {
        const wj = wf.subarray(j * k, (j + 1) * k);
        // Each operand moves by at most half a step (max/127/2); the cross term is second order.
        const hx = absMax(xi) / 254;
        const hw = absMax(wj) / 254;
        const bound = hx * absSum(wj) + hw * absSum(xi) + k * hx * hw + 1e-6;
        expect(Math.abs(y[i * m + j]! - exact[i * m + j]!)).toBeLessThanOrEqual(bound);
      }
    }
  });

  it('stays exact at the largest k, where the VNNI offset sum wraps int32', async () => {
    const k = 1 << 17;
    const w = new Int8Array(2 * k).fill(127);
    w.fill(-127, k); // row 1: Σ = -127·127·k
    const ws = new Float32Array([0.5, 0.25]);
    const x = new Float32Array(k).fill(3);
    const want = matmulI8Reference(w, ws, x, 1, 2, k);
    expect(want[0]).toBeCloseTo(127 * 127 * k * 0.5 * (3 / 127), -3);
    const scratch = new Int8Array(matmulI8ScratchBytes(1, k));
    const y = new Float32Array(2);
    forEachIsa((isa) => {
      matmulI8(w, ws, x, 1, 2, k, y, scratch);
      expect(y, isa).toEqual(want);
    });
    y.fill(0);
    await matmulI8Async(w, ws, x, 1, 2, k, y, scratch);
    expect(y).toEqual(want);
  });

  it('rejects bad int8 arguments', () => {
    const w = new Int8Array(6);
    const ws = new Float32Array(3);
    const x = new Float32Array(4);
    const y = new Float32Array(6);
    const scratch = new Int8Array(matmulI8ScratchBytes(2, 2));
    expect(() => matmulI8(w, ws, x, 2, 3, 2, y, scratch)).not.toThrow();
    expect(() => matmulI8(w, ws, x, 2, 3, 2, y, scratch.subarray(1))).toThrow(/scratch/);
    expect(() => matmulI8(w, ws.subarray(1), x, 2, 3, 2, y, scratch)).toThrow(/wScales/);
    expect(() => matmulI8(new Uint8Array(6) as never, ws, x, 2, 3, 2, y, scratch)).toThrow(TypeError);
    expect(() => matmulI8(w, ws, x, 2, 3, (1 << 17) + 1, y, scratch)).toThrow(RangeError);
    expect(() => quantizeRowsI8(new Float32Array(6), 'f16', 3, 2, w, ws)).toThrow(TypeError);
    expect(() => quantizeRowsI8(new Float32Array(6), 'bf16' as never, 3, 2, w, ws)).toThrow(TypeError);
    expect(() => quantizeRowsI8(new Float32Array(6), 'f32', 3, 2, w.subarray(1), ws)).toThrow(RangeError);
  });
});

describe('recorded programs', () => {
  it('replay matmuls on the current buffer contents', () => {
    const rand = rng(8);
    const [n, m, k] = [2, 23, 96];
    const x = randomF32(n * k, rand); // (n, k) rewritten between replays
    const w16 = randomF16(m * k, rand);
    const w8 = new Int8Array(m * k);
    const ws = new Float32Array(m);
    quantizeRowsI8(randomF32(m * k, rand), 'f32', m, k, w8, ws);
    const scratch = new Int8Array(matmulI8ScratchBytes(n, k));
    const y16 = new Float32Array(n * m);
    const y8 = new Float32Array(n * m);
    const program = recordProgram(() => {
      matmulF16(w16, x, n, m, k, y16);
      matmulI8(w8, ws, x, n, m, k, y8, scratch);
    });
    expect(program.length).toBe(2);
    for (const seed of [9, 10]) {
      x.set(randomF32(n * k, rng(seed)));
      program.run();
      const want16 = new Float32Array(n * m);
      matmulF16(w16, x, n, m, k, want16);
      expect(y16).toEqual(want16);
      expect(y8).toEqual(matmulI8Reference(w8, ws, x, n, m, k));
    }
  });

  it('register every kernel variant for kernelInfo()', () => {
    const info = kernelInfo();
    for (const name of [
      'matmul_f32',
      'matmul_f16',
      'matmul_q8_0',
      'matmul_i8',
      'quantize_rows_i8',
      'embedding_gather',
    ]) {
      expect(info.kernels[name], name).toBeTypeOf('string');
    }
    if (info.isa === 'avx512') expect(info.kernels.matmul_i8).toBe('avx512-vnni');
  });
});

describe('embeddingGather', () => {
  it('widens every half bit pattern exactly', () => {
    const [rows, dim] = [256, 256];
    const table = new Uint16Array(rows * dim).map((_, i) => i); // all 65536 patterns
    const tokens = Int32Array.from({ length: rows }, (_, i) => rows - 1 - i);
    const out = new Float32Array(rows * dim);
    embeddingGather(table, 'f16', rows, dim, tokens, rows, out);
    let mismatches = 0;
    for (let i = 0; i < rows; i++) {
      for (let c = 0; c < dim; c++) {
        const want = f16ToF32(table[tokens[i]! * dim + c]!);
        const got = out[i * dim + c]!;
        if (Number.isNaN(want) ? !Number.isNaN(got) : !Object.is(got, want)) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it('gathers F32 and Q8_0 rows', () => {
    const rand = rng(6);
    const [rows, dim, n] = [11, 64, 5];
    const tokens = Int32Array.from([3, 0, 10, 3, 7]);
    const f32 = randomF32(rows * dim, rand);
    const q8 = atOffset(randomQ8_0(rows, dim, rand), 3);
    const out = new Float32Array(n * dim);
    embeddingGather(f32, 'f32', rows, dim, tokens, n, out);
    for (let i = 0; i < n; i++)
      expect(out.subarray(i * dim, (i + 1) * dim)).toEqual(
        f32.subarray(tokens[i]! * dim, (tokens[i]! + 1) * dim),
      );
    embeddingGather(q8, 'q8_0', rows, dim, tokens, n, out);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < dim; c++)
        expect(out[i * dim + c]).toBe(Math.fround(q8_0At(q8, dim, tokens[i]!, c)));
    }
  });

  it('zero-fills out-of-range ids, throws RangeError on a direct call, reports status on replay', async () => {
    const [rows, dim] = [4, 8];
    const table = Float32Array.from({ length: rows * dim }, (_, i) => i + 1);
    const tokens = Int32Array.from([1, -1, 4, 2]);
    const out = new Float32Array(4 * dim).fill(7);
    expect(() => embeddingGather(table, 'f32', rows, dim, tokens, 4, out)).toThrow(
      /2 token id\(s\) outside \[0, 4\), first tokens\[1\] = -1/,
    );
    expect(out.subarray(0, dim)).toEqual(table.subarray(dim, 2 * dim));
    expect(out.subarray(dim, 3 * dim).every((v) => v === 0)).toBe(true);
    expect(out.subarray(3 * dim)).toEqual(table.subarray(2 * dim, 3 * dim));
    await expect(embeddingGatherAsync(table, 'f32', rows, dim, tokens, 4, out)).rejects.toThrow(RangeError);

    const status = new Int32Array(2);
    const step = Int32Array.from([0, 1, 2, 3]);
    const program = recordProgram(() => embeddingGather(table, 'f32', rows, dim, step, 4, out, status));
    program.run();
    expect([...status]).toEqual([0, -1]);
    expect(out).toEqual(table);
    step[2] = 1 << 30; // the replay reads the new ids
    program.run();
    expect([...status]).toEqual([1, 2]);
    expect(out.subarray(2 * dim, 3 * dim).every((v) => v === 0)).toBe(true);
    step[2] = 0;
    await program.runAsync();
    expect([...status]).toEqual([0, -1]);
    expect(out.subarray(2 * dim, 3 * dim)).toEqual(table.subarray(0, dim));
  });

  it('rejects bad arguments', () => {
    const table = new Float32Array(32);
    const tokens = new Int32Array(2);
    const out = new Float32Array(16);
    expect(() => embeddingGather(table, 'f16', 4, 8, tokens, 2, out)).toThrow(TypeError);
    expect(() => embeddingGather(table, 'q4' as never, 4, 8, tokens, 2, out)).toThrow(TypeError);
    expect(() => embeddingGather(table, 'f32', 5, 8, tokens, 2, out)).toThrow(RangeError);
    expect(() => embeddingGather(table, 'f32', 4, 8, new Uint32Array(2) as never, 2, out)).toThrow(TypeError);
    expect(() => embeddingGather(table, 'f32', 4, 8, tokens, 3, out)).toThrow(RangeError);
    expect(() => embeddingGather(new Uint8Array(34 * 4), 'q8_0', 4, 30, tokens, 2, out)).toThrow(
      /multiple of 32/,
    );
  });
});
