import { describe, expect, it } from 'vitest';
import {
  type ActivationQuantization,
  allocLutScratch,
  allocQuantizedActivations,
  forEachIsa,
  getThreads,
  kernelInfo,
  LUT_WORDS_PER_BLOCK,
  LUT_ZERO_PATTERN,
  type LutRowsPerTile,
  lutMatmul,
  lutMatmulAsync,
  lutPack,
  lutPackAsync,
  lutScratchBytes,
  type PackedTernary,
  quantizeActivations,
  recordProgram,
  setThreads,
  ternaryMatmul,
} from '../lib/index.js';
import { packedTernary, randomActivations, randomTernary, rng, sameBytes } from './helpers.js';

function packed(values: Int8Array, rows: number, cols: number, seed: number): PackedTernary {
  const r = rng(seed);
  return packedTernary(
    values,
    rows,
    cols,
    Float32Array.from({ length: rows }, () => 0.01 + r()),
  );
}

function activations(rows: number, cols: number, mode: ActivationQuantization, seed: number) {
  const qa = allocQuantizedActivations(rows, cols, mode);
  quantizeActivations(randomActivations(rows * cols, seed), rows, qa);
  return qa;
}

/**
 * The layout of lut_layout.h written independently: K chunks of `chunk` blocks, each (tiles, blocks, 29, R);
 * word w of block b holds groups 3w..3w+2.
 */
function lutPackRef(
  values: Int8Array,
  rows: number,
  cols: number,
  rowsPerTile: number,
  chunk: number,
): Uint16Array {
  const nblocks = Math.ceil(cols / 256);
  const tiles = Math.ceil(rows / rowsPerTile);
  const out = new Uint16Array(tiles * nblocks * LUT_WORDS_PER_BLOCK * rowsPerTile);
  let at = 0;
  for (let c0 = 0; c0 < nblocks; c0 += chunk) {
    for (let t = 0; t < tiles; t++) {
      for (let b = c0; b < Math.min(nblocks, c0 + chunk); b++) {
        for (let w = 0; w < LUT_WORDS_PER_BLOCK; w++) {
          for (let r = 0; r < rowsPerTile; r++)
            out[at++] = patternWord(values, rows, cols, t * rowsPerTile + r, b, w);
        }
      }
    }
  }
  return out;
}

function patternWord(values: Int8Array, rows: number, cols: number, m: number, b: number, w: number): number {
  let word = 0;
  for (let i = 0; i < 3; i++) {
    let f = LUT_ZERO_PATTERN;
    if (m < rows) {
      f = 0;
      for (let d = 0; d < 3; d++) {
        const slot = 3 * (3 * w + i) + d;
        const k = 256 * b + slot;
        const code = slot < 256 && k < cols ? values[m * cols + k]! + 1 : 1;
        f += code * 3 ** d;
      }
    }
    word |= f << (5 * i);
  }
  return word;
}

describe('lutPack', () => {
  it('writes the documented layout for every tile size, ragged rows and columns included', () => {
    for (const [rows, cols] of [
      [1, 100],
      [37, 300],
      [70, 1100],
    ] as const) {
      const values = randomTernary(rows * cols, rows + cols);
      const w = packed(values, rows, cols, 1);
      for (const rowsPerTile of [16, 32, 64, 128] as const) {
        for (const blocksPerChunk of [1, 2, 99]) {
          const lut = lutPack(w, { rowsPerTile, blocksPerChunk });
          expect(lut.tiles).toBe(Math.ceil(rows / rowsPerTile));
          expect(lut.blocksPerChunk).toBe(Math.min(blocksPerChunk, Math.ceil(cols / 256)));
          expect(lut.rowScales).toBe(w.rowScales);
          const want = lutPackRef(values, rows, cols, rowsPerTile, lut.blocksPerChunk);
          expect(sameBytes(lut.data, want)).toBe(true);
        }
      }
    }
  });

  it('lutPackAsync gives the same words', async () => {
    const values = randomTernary(40 * 600, 9);
    const w = packed(values, 40, 600, 2);
    const a = await lutPackAsync(w, { rowsPerTile: 64 });
    expect(a.data).toEqual(lutPack(w, { rowsPerTile: 64 }).data);
  });
});

describe('lutMatmul', () => {
  const shapes: [rows: number, cols: number][] = [
    [1, 100],
    [37, 300],
    [70, 513],
    [96, 256],
    [129, 1000],
    [45, 2300],
  ];

  it('equals ternaryMatmul bit for bit on every ISA, both activation modes, ragged shapes', () => {
    for (const [rows, cols] of shapes) {
      const values = randomTernary(rows * cols, 3 * rows + cols);
      const w = packed(values, rows, cols, rows);
      const luts = ([16, 32, 64, 128] as LutRowsPerTile[]).flatMap((rowsPerTile) =>
        [1, 3, 64].map((blocksPerChunk) => lutPack(w, { rowsPerTile, blocksPerChunk })),
      );
      for (const mode of ['per-token', 'per-block-256'] as const) {
        for (const n of [1, 3, 17]) {
          const qa = activations(n, cols, mode, rows * n + cols);
          const want = new Float32Array(n * rows);
          ternaryMatmul(w, qa, n, want);
          // One activation row of scratch forces the chunked walk; n rows run in one pass.
          const scratches = [allocLutScratch(cols, 1), allocLutScratch(cols, n)];
          forEachIsa((isa) => {
            for (const lut of luts) {
              for (const scratch of scratches) {
                const y = new Float32Array(n * rows).fill(Number.NaN);
                lutMatmul(lut, qa, n, y, scratch);
                const same = sameBytes(y, want);
                if (!same) {
                  throw new Error(
                    `${isa} ${rows}x${cols} n=${n} ${mode} R=${lut.rowsPerTile} scratch=${scratch.length}`,
                  );
                }
              }
            }
          });
        }
      }
    }
  });

  it('is exact at the int16 edge: 256 weights of -1 against activations of -128 sum to +32768', () => {
    const rows = 33;
    const cols = 512;
    const values = new Int8Array(rows * cols).fill(-1);
    for (let i = 0; i < cols; i++) values[cols + i] = 1; // row 1: sum -32768
    const w = packed(values, rows, cols, 5);
    for (const mode of ['per-token', 'per-block-256'] as const) {
      const qa = allocQuantizedActivations(2, cols, mode);
      qa.q.fill(-128);
      qa.q.fill(127, cols); // second activation row: the other extreme
      qa.scales.fill(0.5);
      // ternaryMatmul subtracts the per-group sum of q (its codes are w + 1).
      const groups = mode === 'per-token' ? 1 : cols / 256;
      for (let r = 0; r < 2; r++) {
        for (let g = 0; g < groups; g++) qa.sums[r * groups + g] = (r === 0 ? -128 : 127) * (cols / groups);
      }
      const want = new Float32Array(2 * rows);
      ternaryMatmul(w, qa, 2, want);
      expect(want[0]).toBeCloseTo(2 * 32768 * 0.5 * w.rowScales[0]!, 2);
      expect(want[1]).toBeCloseTo(-2 * 32768 * 0.5 * w.rowScales[1]!, 2);
      forEachIsa(() => {
        for (const rowsPerTile of [16, 32, 64, 128] as const) {
          const y = new Float32Array(2 * rows);
          lutMatmul(lutPack(w, { rowsPerTile, blocksPerChunk: 1 }), qa, 2, y, allocLutScratch(cols, 2));
          expect(sameBytes(y, want)).toBe(true);
        }
      });
    }
  });

  it('splits rows over 1 and 2 threads with the same result, sync, async and recorded', async () => {
    const [rows, cols, n] = [300, 700, 5];
    const w = packed(randomTernary(rows * cols, 77), rows, cols, 7);
    const lut = lutPack(w, { rowsPerTile: 32, blocksPerChunk: 2 });
    const qa = activations(n, cols, 'per-token', 8);
    const want = new Float32Array(n * rows);
    ternaryMatmul(w, qa, n, want);
    const before = getThreads();
    try {
      for (const threads of [1, 2]) {
        setThreads(threads);
        const scratch = allocLutScratch(cols, 2);
        const y = new Float32Array(n * rows);
        lutMatmul(lut, qa, n, y, scratch);
        expect(sameBytes(y, want)).toBe(true);
        const ya = new Float32Array(n * rows);
        await lutMatmulAsync(lut, qa, n, ya, scratch);
        expect(sameBytes(ya, want)).toBe(true);
        const yr = new Float32Array(n * rows);
        const program = recordProgram(() => lutMatmul(lut, qa, n, yr, scratch));
        expect(yr[0]).toBe(0); // recorded, not run
        program.run();
        expect(sameBytes(yr, want)).toBe(true);
      }
    } finally {
      setThreads(before);
    }
  });

  it('reports its variants in kernelInfo()', () => {
    expect(kernelInfo().kernels.lut_matmul).toMatch(/generic|avx2|avx512/);
  });

  it('rejects bad arguments with TypeError / RangeError', () => {
    const w = packed(randomTernary(20 * 300, 1), 20, 300, 1);
    const lut = lutPack(w);
    const qa = activations(2, 300, 'per-token', 1);
    const y = new Float32Array(40);
    const scratch = allocLutScratch(300, 1);
    expect(() => lutPack(w, { rowsPerTile: 8 as LutRowsPerTile })).toThrow(RangeError);
    expect(() => lutPack({ ...w, data: new Uint8Array(3) })).toThrow(RangeError);
    expect(() => lutPack(null as unknown as PackedTernary)).toThrow(TypeError);
    expect(() => lutPack(w, { blocksPerChunk: 0 })).toThrow(RangeError);
    expect(() => lutMatmul({ ...lut, blocksPerChunk: 3 }, qa, 2, y, scratch)).toThrow(RangeError);
    expect(() => lutMatmul(lut, qa, 2, y, new Uint8Array(10))).toThrow(/scratch/);
    expect(() => lutMatmul(lut, qa, 2, y, new Uint8Array(10))).toThrow(RangeError);
    expect(() => lutMatmul(lut, qa, 2, new Float32Array(39), scratch)).toThrow(RangeError);
    expect(() => lutMatmul(lut, qa, 3, y, scratch)).toThrow(RangeError);
    expect(() => lutMatmul(lut, qa, 1.5, y, scratch)).toThrow(TypeError);
    expect(() => lutMatmul(lut, activations(1, 256, 'per-token', 1), 1, y, scratch)).toThrow(/cols/);
    expect(() => lutMatmul({ ...lut, data: new Uint16Array(5) }, qa, 2, y, scratch)).toThrow(RangeError);
    expect(() => lutMatmul({ ...lut, rowsPerTile: 48 as LutRowsPerTile }, qa, 2, y, scratch)).toThrow(
      RangeError,
    );
    expect(() => lutMatmul(lut, qa, 2, new Float64Array(40) as unknown as Float32Array, scratch)).toThrow(
      TypeError,
    );
    expect(() => lutScratchBytes(0, 1)).toThrow(RangeError);
    expect(lutScratchBytes(300, 3)).toBe(2 * 87 * 64 * 3);
  });
});
