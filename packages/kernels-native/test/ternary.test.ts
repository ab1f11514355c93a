import { describe, expect, it } from 'vitest';
import {
  type ActivationQuantization,
  allocQuantizedActivations,
  encodeTernary,
  forEachIsa,
  kernelInfo,
  type PackedTernary,
  packTernary,
  packTernaryAsync,
  quantizeActivations,
  randomPackedTernary,
  recordProgram,
  ternaryMatmul,
  ternaryMatmulAsync,
  ternaryMatmulGroup,
  ternaryMatmulGroupAsync,
} from '../lib/index.js';
import { native } from '../lib/native.js';
import {
  detach,
  forEachIsaAndThreads,
  packedTernary,
  randomActivations,
  randomTernary,
  sameBytes,
} from './helpers.js';
import {
  matmulRef,
  packRef,
  quantizePerTokenRef,
  quantizeQ8KBlockRef,
  type RefActivations,
} from './reference/ternary.js';

/** Encodes values (rows, cols) with one scale per row in `format` (cols % 256 == 0 for TQ*). */
function encodeRows(
  format: 'TQ1_0' | 'TQ2_0' | 'I2_S',
  values: Int8Array,
  rows: number,
  cols: number,
  rowScales: Float32Array,
) {
  if (format === 'I2_S') return encodeTernary(format, values, Float32Array.of(rowScales[0]!));
  const blocks = new Float32Array((rows * cols) / 256);
  for (let b = 0; b < blocks.length; b++) blocks[b] = rowScales[Math.floor((b * 256) / cols)]!;
  return encodeTernary(format, values, blocks);
}

describe('packTernary', () => {
  it('packs every format into the same runtime layout', () => {
    const rows = 5;
    const cols = 768;
    const values = randomTernary(rows * cols, 11);
    const rowScales = Float32Array.from({ length: rows }, (_, i) => 0.25 * (i + 1));
    const want = packRef(values, rows, cols);
    const fromTq2 = packTernary('TQ2_0', encodeRows('TQ2_0', values, rows, cols, rowScales), rows, cols);
    const fromTq1 = packTernary('TQ1_0', encodeRows('TQ1_0', values, rows, cols, rowScales), rows, cols);
    expect(fromTq2.colsPadded).toBe(768);
    expect(fromTq2.data).toEqual(want);
    expect(fromTq2.rowScales).toEqual(rowScales);
    expect(fromTq1).toEqual(fromTq2);
    const i2 = packTernary('I2_S', encodeRows('I2_S', values, rows, cols, Float32Array.of(0.5)), rows, cols);
    expect(i2.data).toEqual(want);
    expect([...i2.rowScales]).toEqual([0.5, 0.5, 0.5, 0.5, 0.5]);
  });

  it('handles I2_S rows that start inside a 128-weight block and pads ragged rows with zero weights', () => {
    for (const [rows, cols] of [
      [4, 96],
      [32, 300],
      [3, 640],
    ] as const) {
      const values = randomTernary(rows * cols, rows * cols);
      const packed = packTernary('I2_S', encodeTernary('I2_S', values, Float32Array.of(2)), rows, cols);
      expect(packed.colsPadded).toBe(Math.ceil(cols / 256) * 256);
      expect(packed.data).toEqual(packRef(values, rows, cols));
    }
  });

  it('needs one scale per row but ignores the scale of all-zero blocks', () => {
    const cols = 512;
    const values = randomTernary(2 * cols, 5);
    const bytes = encodeTernary('TQ2_0', values, Float32Array.of(1, 1, 1, 2));
    expect(() => packTernary('TQ2_0', bytes, 2, cols)).toThrow(/row 1 .*one scale per row/);
    values.fill(0, 3 * 256, 4 * 256);
    const ok = packTernary('TQ2_0', encodeTernary('TQ2_0', values, Float32Array.of(1, 1, 1, 2)), 2, cols);
    expect([...ok.rowScales]).toEqual([1, 1]);
    const zero = packTernary('TQ2_0', encodeTernary('TQ2_0', new Int8Array(256), Float32Array.of(9)), 1, 256);
    expect([...zero.rowScales]).toEqual([0]);
  });

  it('packs off the JS thread with the same result and rejects bad rows asynchronously', async () => {
    const values = randomTernary(3 * 512, 21);
    const bytes = encodeTernary('TQ1_0', values, Float32Array.of(1, 1, 2, 2, 3, 3));
    expect(await packTernaryAsync('TQ1_0', bytes, 3, 512)).toEqual(packTernary('TQ1_0', bytes, 3, 512));
    const mixed = encodeTernary('TQ1_0', values, Float32Array.of(1, 1, 2, 5, 3, 3));
    await expect(packTernaryAsync('TQ1_0', mixed, 3, 512)).rejects.toThrow(/row 1 /);
  });

  it('validates its arguments', () => {
    const bytes = new Uint8Array(66 * 4).fill(0x55);
    expect(() => packTernary('TQ2_0', bytes, 1, 300)).toThrow(RangeError);
    expect(() => packTernary('TQ2_0', bytes, 5, 256)).toThrow(/needs 330/);
    expect(() => packTernary('TQ2_0', bytes, 0, 256)).toThrow(RangeError);
    expect(() => packTernary('TQ2_0', bytes, 1.5, 256)).toThrow(TypeError);
    expect(() => packTernary('I2_S', new Uint8Array(100), 1, 100)).toThrow(RangeError);
    expect(() => packTernary('TQ2_0', [] as never, 1, 256)).toThrow(TypeError);
    expect(() => packTernary('Q8_0' as never, bytes, 1, 256)).toThrow(TypeError);
    const bad = new Uint8Array(66 * 2).fill(0x55);
    bad[66 + 1] = 0xff;
    expect(() => packTernary('TQ2_0', bad, 2, 256)).toThrow(/row 1 holds the invalid code 3/);
    const badI2 = encodeTernary('I2_S', new Int8Array(4 * 256), Float32Array.of(1));
    badI2[2 * 64 + 5] = 0b11_01_01_01; // row 2 (whole blocks: the direct path)
    expect(() => packTernary('I2_S', badI2, 4, 256)).toThrow(/row 2 holds the invalid code 3/);
    const badRagged = encodeTernary('I2_S', new Int8Array(32 * 300), Float32Array.of(1));
    const i = 7 * 300 + 10; // row 7 starts mid-block; set only weight i's 2-bit field to 3
    badRagged[Math.floor(i / 128) * 32 + (i % 32)]! |= 3 << (6 - 2 * Math.floor((i % 128) / 32));
    expect(() => packTernary('I2_S', badRagged, 32, 300)).toThrow(/row 7 holds the invalid code 3/);
  });
});

/** Index of the first differing element, or -1. */
function firstDiff(a: Int8Array, b: Int8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : a.length;
}

/** Quantizes x (rows, cols) on the ISA in use and checks every row against the TS references, bit for bit. */
function expectQuantizeMatchesRef(x: Float32Array, rows: number, cols: number, mode: ActivationQuantization) {
  const qa = allocQuantizedActivations(rows, cols, mode);
  qa.q.fill(99); // padding must be written too
  qa.scales.fill(99);
  quantizeActivations(x, rows, qa);
  const groups = mode === 'per-token' ? 1 : qa.colsPadded / 256;
  for (let r = 0; r < rows; r++) {
    const xr = x.subarray(r * cols, (r + 1) * cols); // (cols)
    for (let g = 0; g < groups; g++) {
      const where = `${mode} cols ${cols} row ${r} group ${g} (${kernelInfo().isa})`;
      const ref =
        mode === 'per-token'
          ? (({ q, scale, sum }) => ({ q, d: scale, sum }))(quantizePerTokenRef(xr, qa.colsPadded))
          : quantizeQ8KBlockRef(xr.subarray(g * 256, Math.min(cols, g * 256 + 256)));
      const len = mode === 'per-token' ? qa.colsPadded : 256;
      const off = r * qa.colsPadded + g * len;
      expect(firstDiff(qa.q.subarray(off, off + len), ref.q), where).toBe(-1);
      expect(qa.scales[r * groups + g], where).toBe(ref.d);
      expect(qa.sums[r * groups + g], where).toBe(ref.sum);
    }
  }
}

const MODES: ActivationQuantization[] = ['per-token', 'per-block-256'];

/** Rows (cols each) that stress the max search, the rounding and the fallbacks; every row its own case. */
function specialRows(cols: number): Float32Array[] {
  const base = (seed: number) => randomActivations(cols, seed);
  const set = (seed: number, at: Record<number, number>) => {
    const x = base(seed);
    for (const [i, v] of Object.entries(at)) if (Number(i) < cols) x[Number(i)] = v;
    return x;
  };
  const last = cols - 1;
  const lastGroupStart = Math.floor(last / 256) * 256;
  return [
    new Float32Array(cols), // all zeros
    Float32Array.from({ length: cols }, (_, i) => (i % 3 === 0 ? -0 : 0)), // signed zeros
    set(1, { 5: -25, 9: 25, 260: 25, 300: -25 }), // |max| ties with opposite signs (|outliers| < 20): the first wins
    set(2, { [last]: -30, [Math.max(0, last - 1)]: 30 }), // the max in the ragged tail lanes
    set(3, { 7: 3e38, 8: -3e38, 11: 1e-40 }), // huge and denormal
    Float32Array.from({ length: cols }, (_, i) => ((i % 7) - 3) * 1e-7), // all below bitnet's 1e-5 floor
    // Denormal group maxima: -127 / max overflows to -Inf and nearest_int(±Inf) = -2^22, which q truncates
    Float32Array.from({ length: cols }, (_, i) => ((i % 5) - 2) * 1e-45),
    set(4, { 0: Infinity }),
    set(5, { [last]: -Infinity, 13: Infinity }),
    set(6, { 0: Number.NaN }),
    set(7, { [cols >> 1]: Number.NaN, 3: 20 }), // NaN after the max: the running max restarts after it
    set(8, { [last]: Number.NaN }), // NaN last: the max stays NaN in bitnet.cpp
    set(9, { [lastGroupStart]: Number.NaN, 1: Infinity }),
    new Float32Array(cols).fill(Number.NaN),
  ];
}
const SPECIAL_ROWS = 14;

/** specialRows(cols) stacked: (SPECIAL_ROWS, cols). */
function specialMatrix(cols: number): Float32Array {
  const rows = specialRows(cols);
  expect(rows.length).toBe(SPECIAL_ROWS);
  const x = new Float32Array(SPECIAL_ROWS * cols); // (SPECIAL_ROWS, cols)
  for (const [r, row] of rows.entries()) x.set(row, r * cols);
  return x;
}

describe('quantizeActivations', () => {
  it("per-token matches bitnet.cpp's quantize_row_i8_s bit for bit on every ISA", () => {
    forEachIsaAndThreads([1, 2], () => {
      for (const cols of [1, 17, 64, 256, 257, 300, 1536, 2560, 4095]) {
        const rows = 3;
        const x = randomActivations(rows * cols, cols);
        x.fill(0, cols, 2 * cols); // an all-zero row
        expectQuantizeMatchesRef(x, rows, cols, 'per-token');
      }
    });
  });

  it("per-block-256 matches llama.cpp's quantize_row_q8_K_ref bit for bit on every ISA", () => {
    forEachIsaAndThreads([1, 2], () => {
      for (const cols of [1, 17, 256, 257, 300, 768, 1536, 4095]) {
        const rows = 2;
        const x = randomActivations(rows * cols, cols + 1);
        x.fill(0, 256, Math.min(cols, 512)); // a zero group when there is one
        x[3 % cols] = -50; // a negative max: iscale is positive, q keeps the sign of x
        expectQuantizeMatchesRef(x, rows, cols, 'per-block-256');
      }
    });
  });

  it('matches the references on ties, zeros, huge, tiny, ±Inf and NaN rows on every ISA', () => {
    forEachIsa(() => {
      for (const cols of [300, 4095, 1024]) {
        const x = specialMatrix(cols); // (SPECIAL_ROWS, cols)
        for (const mode of MODES) expectQuantizeMatchesRef(x, SPECIAL_ROWS, cols, mode);
      }
    });
  });

  it('splits prefill-sized batches over the pool with the same bits', () => {
    // Pool chunks hold >= 65536 values: 40 rows of 2049 split into chunks of 31 rows and 9 rows.
    const [rows, cols] = [40, 2049];
    const x = randomActivations(rows * cols, 7);
    x[5 * cols + 2] = Number.NaN; // a scalar fallback row inside a chunk
    forEachIsaAndThreads([1, 2], () => {
      for (const mode of MODES) expectQuantizeMatchesRef(x, rows, cols, mode);
    });
  });

  it('gives every ISA the bytes of the generic kernel, NaN payloads included', () => {
    const cols = 700;
    const x = specialMatrix(cols); // (SPECIAL_ROWS, cols)
    // NaNs JS would canonicalise: signalling, negative, with payloads (nearest_int reads their mantissa).
    const bits = new Uint32Array(x.buffer);
    bits[3 * cols + 2] = 0x7f800001;
    bits[4 * cols + 600] = 0xffc00000;
    bits[5 * cols + 299] = 0x7fa5a5a5;
    bits[12 * cols + 0] = 0xff812345;
    for (const mode of MODES) {
      const results = new Map<string, Uint8Array>();
      forEachIsa((isa) => {
        const qa = allocQuantizedActivations(SPECIAL_ROWS, cols, mode);
        quantizeActivations(x, SPECIAL_ROWS, qa);
        const bytes = [qa.q, qa.scales, qa.sums].map((a) => new Uint8Array(a.buffer.slice(0)));
        results.set(isa, Uint8Array.from(bytes.flatMap((b) => [...b])));
      });
      const generic = results.get('generic')!;
      for (const [isa, got] of results) expect(sameBytes(got, generic), `${mode} ${isa}`).toBe(true);
    }
  });

  it('reports its variant in kernelInfo()', () => {
    forEachIsa((isa) => {
      expect(kernelInfo().kernels.ternary_quantize).toBe(isa);
    });
  });

  it('validates its arguments', () => {
    const qa = allocQuantizedActivations(2, 300, 'per-token');
    expect(() => quantizeActivations(new Float32Array(600), 3, qa)).toThrow(RangeError);
    expect(() => quantizeActivations(new Float32Array(599), 2, qa)).toThrow(RangeError);
    expect(() => quantizeActivations(new Float64Array(600) as never, 2, qa)).toThrow(TypeError);
    expect(() => quantizeActivations(new Float32Array(600), 2, { ...qa, mode: 'per-row' as never })).toThrow(
      TypeError,
    );
    expect(() => allocQuantizedActivations(0, 256, 'per-token')).toThrow(RangeError);
    expect(() => allocQuantizedActivations(1, 256, 'int4' as never)).toThrow(TypeError);
  });
});

interface Case {
  packed: PackedTernary;
  values: Int8Array;
}

function makeWeights(m: number, k: number, seed: number): Case {
  const values = randomTernary(m * k, seed);
  const rowScales = Float32Array.from({ length: m }, (_, i) => 0.01 + 0.001 * ((i * 7) % 13));
  return { packed: packedTernary(values, m, k, rowScales), values };
}

function refActivations(qa: ReturnType<typeof allocQuantizedActivations>): RefActivations {
  return { colsPadded: qa.colsPadded, q: qa.q, scales: qa.scales, perBlock: qa.mode === 'per-block-256' };
}

describe('randomPackedTernary', () => {
  it('gives valid codes (never 3), the same bytes for the same seed, others for another', () => {
    const a = randomPackedTernary(40, 300, 7);
    expect(a.colsPadded).toBe(512);
    expect(a.data.length).toBe(40 * 128);
    for (const b of a.data) for (let f = 0; f < 8; f += 2) expect((b >> f) & 3).not.toBe(3);
    expect(sameBytes(randomPackedTernary(40, 300, 7).data, a.data)).toBe(true);
    expect(sameBytes(randomPackedTernary(40, 300, 8).data, a.data)).toBe(false);
    // padding k in [300, 512) holds weight 0 (code 1): byte j of block 1 holds k = 256 + 64p + j
    for (let r = 0; r < 40; r++) {
      for (let k = 300; k < 512; k++) {
        expect((a.data[r * 128 + 64 + (k & 63)]! >> (2 * ((k >> 6) & 3))) & 3).toBe(1);
      }
    }
    expect(() => randomPackedTernary(0, 300, 1)).toThrow(RangeError);
  });
});

describe('ternaryMatmul', () => {
  // Every listed N, K and M appears; the reference is plain TS over unpacked weights in float32 order.
  const shapes: [n: number, k: number, m: number][] = [
    [1, 256, 1],
    [1, 2560, 640],
    [3, 300, 7],
    [3, 768, 64],
    [17, 300, 64],
    [17, 2560, 7],
    [64, 256, 640],
    [64, 768, 7],
    [1, 300, 640],
    [17, 768, 1],
    // Every AVX-512 tile (8x2, 8x3, 6x4, 4x4 and their N % 4 tails) over ragged row chunks.
    [2, 768, 150],
    [5, 512, 131],
    [6, 256, 70],
    [7, 512, 67],
    [10, 1280, 29],
    [6, 8300, 9], // K past the AVX-512 per-block 4x4 tile's stack buffer (8192): the plain 4x4 tile
    // The AVX-512 outer-product kernel (N >= 8): whole and partial 16-token tiles (8/4/2/1 pieces), row
    // groups cut by M, several row groups per chunk, K at its stack buffer's limit, and past it (fallback).
    [8, 256, 16],
    [16, 768, 64],
    [16, 2560, 67],
    [31, 512, 150],
    [40, 1280, 33],
    [9, 8192, 20],
    [12, 8448, 18],
  ];
  for (const mode of ['per-token', 'per-block-256'] as const) {
    it(`matches the reference bit for bit on every ISA (${mode})`, () => {
      const seen: string[] = [];
      for (const [n, k, m] of shapes) {
        const { packed, values } = makeWeights(m, k, n * 1000 + k + m);
        const qa = allocQuantizedActivations(n + 2, k, mode);
        quantizeActivations(randomActivations(n * k, k * n), n, qa);
        const want = matmulRef(values, packed.rowScales, m, k, refActivations(qa), n);
        forEachIsa((isa) => {
          const y = new Float32Array(n * m + 3).fill(Number.NaN);
          ternaryMatmul(packed, qa, n, y);
          const got = y.subarray(0, n * m);
          let mismatch = -1;
          for (let i = 0; i < got.length && mismatch < 0; i++) if (!Object.is(got[i], want[i])) mismatch = i;
          expect(
            mismatch,
            `${isa} N=${n} K=${k} M=${m}: y[${mismatch}] ${got[mismatch]} vs ${want[mismatch]}`,
          ).toBe(-1);
          expect(Number.isNaN(y[n * m])).toBe(true); // nothing written past N x M
          seen.push(kernelInfo().kernels.ternary_matmul ?? '?');
        });
      }
      expect(seen).toContain('generic');
    });
  }

  it("computes llama.cpp's 8-lane float order with dot 'llama.cpp', bit for bit on every ISA", () => {
    // llama.cpp's AVX2 vec_dot_tq2_0_q8_K: per block, lane l = Σ code·q over k mod 32 in [4l, 4l + 4) minus
    // the q sums of the block's runs 2l and 2l + 1; sumf[l] = fma(lane, d_a · d_w, sumf[l]); hsum_float_8.
    const f = Math.fround;
    for (const [n, k, m] of [
      [1, 256, 3],
      [5, 768, 37],
      [17, 1280, 20],
    ] as const) {
      const { packed, values } = makeWeights(m, k, n + k + m);
      const qa = allocQuantizedActivations(n, k, 'per-block-256', { dot: 'llama.cpp' });
      quantizeActivations(randomActivations(n * k, n * 7 + 1), n, qa);
      const nb = k / 256;
      const want = new Float32Array(n * m);
      for (let i = 0; i < n; i++) {
        for (let r = 0; r < m; r++) {
          const sumf = new Float32Array(8);
          for (let b = 0; b < nb; b++) {
            const lane = new Int32Array(8);
            for (let c = 0; c < 256; c++) {
              const qv = qa.q[i * k + b * 256 + c]!;
              lane[(c % 32) >> 2]! += (values[r * k + b * 256 + c]! + 1) * qv;
              lane[c >> 5]! -= qv; // the runs 2l and 2l + 1 of 16 (bsums) are the 32-value run l
            }
            const d = f(qa.scales[i * nb + b]! * packed.rowScales[r]!);
            // fused multiply-add: lane · d is exact in double, so one rounding to float (double rounding
            // through the double sum is possible only at exact float midpoints)
            for (let l = 0; l < 8; l++) sumf[l] = f(lane[l]! * d + sumf[l]!);
          }
          const s = sumf;
          want[i * m + r] = f(
            f(f(s[4]! + s[0]!) + f(s[6]! + s[2]!)) + f(f(s[5]! + s[1]!) + f(s[7]! + s[3]!)),
          );
        }
      }
      forEachIsaAndThreads([1, 2], (isa) => {
        const y = new Float32Array(n * m);
        ternaryMatmul(packed, qa, n, y);
        expect(sameBytes(y, want), `${isa} N=${n} K=${k} M=${m}`).toBe(true);
      });
    }
    expect(() => allocQuantizedActivations(2, 256, 'per-token', { dot: 'llama.cpp' })).toThrow(RangeError);
    expect(() => allocQuantizedActivations(2, 256, 'per-block-256', { dot: 'x' as never })).toThrow(
      TypeError,
    );
  });

  it('gives the same bits with any thread count', () => {
    const [n, k, m] = [5, 768, 300];
    const { packed, values } = makeWeights(m, k, 9);
    const qa = allocQuantizedActivations(n, k, 'per-block-256');
    quantizeActivations(randomActivations(n * k, 4), n, qa);
    const want = matmulRef(values, packed.rowScales, m, k, refActivations(qa), n);
    forEachIsaAndThreads([1, 3], () => {
      const y = new Float32Array(n * m);
      ternaryMatmul(packed, qa, n, y);
      expect(y).toEqual(want);
    });
  });

  it('runs async with the same result and replays a recorded program on new activations', async () => {
    const [n, k, m] = [4, 768, 96];
    const { packed, values } = makeWeights(m, k, 3);
    const qa = allocQuantizedActivations(n, k, 'per-token');
    quantizeActivations(randomActivations(n * k, 1), n, qa);
    const ySync = new Float32Array(n * m);
    const yAsync = new Float32Array(n * m);
    ternaryMatmul(packed, qa, n, ySync);
    await ternaryMatmulAsync(packed, qa, n, yAsync);
    expect(yAsync).toEqual(ySync);

    const x = randomActivations(n * k, 2);
    const y = new Float32Array(n * m);
    const program = recordProgram(() => {
      quantizeActivations(x, n, qa);
      ternaryMatmul(packed, qa, n, y);
    });
    for (const seed of [5, 6]) {
      x.set(randomActivations(n * k, seed));
      await program.runAsync();
      const fresh = allocQuantizedActivations(n, k, 'per-token');
      quantizeActivations(x, n, fresh);
      expect(y).toEqual(matmulRef(values, packed.rowScales, m, k, refActivations(fresh), n));
    }
  });

  it('validates its arguments', () => {
    const { packed } = makeWeights(8, 300, 1);
    const qa = allocQuantizedActivations(2, 300, 'per-token');
    const y = new Float32Array(16);
    expect(() => ternaryMatmul(packed, qa, 3, y)).toThrow(/rows must be in \[1, 2\]/);
    expect(() => ternaryMatmul(packed, qa, 0, y)).toThrow(RangeError);
    expect(() => ternaryMatmul(packed, qa, 2, new Float32Array(15))).toThrow(RangeError);
    expect(() => ternaryMatmul(packed, qa, 2, new Float64Array(16) as never)).toThrow(TypeError);
    expect(() => ternaryMatmul(packed, allocQuantizedActivations(2, 256, 'per-token'), 1, y)).toThrow(/cols/);
    expect(() => ternaryMatmul({ ...packed, data: new Uint8Array(10) }, qa, 1, y)).toThrow(RangeError);
    expect(() => ternaryMatmul({ ...packed, rowScales: [] as never }, qa, 1, y)).toThrow(TypeError);
    expect(() => ternaryMatmul(packed, { ...qa, maxRows: Number.NaN }, 1, y)).toThrow(TypeError);
    expect(() => ternaryMatmul(packed, { ...qa, q: new Int8Array(10) }, 1, y)).toThrow(RangeError);
    expect(() => ternaryMatmul(packed, qa, 1, detach(new Float32Array(16)))).toThrow(RangeError);
    const qDetached = allocQuantizedActivations(2, 300, 'per-token');
    detach(qDetached.q);
    expect(() => ternaryMatmul(packed, qDetached, 1, y)).toThrow(RangeError);
  });
});

describe('ternaryMatmulGroup', () => {
  // Row counts on and off the 64-row chunk grid and below one 16-row group; batches for the GEMV (1), the
  // register tiles (3) and the outer-product kernel (16, 17, 40: whole and partial 16-token tiles).
  const rowsOf = [100, 64, 37];
  const cases: [number, number][] = [
    [1, 768],
    [3, 300],
    [16, 1280],
    [17, 512],
    [40, 256],
  ];
  const dots: [ActivationQuantization, 'ternion' | 'llama.cpp'][] = [
    ['per-token', 'ternion'],
    ['per-block-256', 'ternion'],
    ['per-block-256', 'llama.cpp'],
  ];
  for (const [mode, dot] of dots) {
    it(`equals one ternaryMatmul per matrix, bit for bit, on every ISA and thread count (${mode}, ${dot})`, () => {
      for (const [n, k] of cases) {
        const ws = rowsOf.map((m, i) => makeWeights(m, k, 31 * n + 7 * k + i).packed);
        const qa = allocQuantizedActivations(n, k, mode, { dot });
        quantizeActivations(randomActivations(n * k, n + k), n, qa);
        forEachIsaAndThreads([1, 2], (isa, threads) => {
          const want = ws.map((w) => {
            const y = new Float32Array(n * w.rows);
            ternaryMatmul(w, qa, n, y);
            return y;
          });
          const ys = ws.map((w) => new Float32Array(n * w.rows).fill(Number.NaN));
          ternaryMatmulGroup(ws, qa, n, ys);
          for (let i = 0; i < ws.length; i++) {
            expect(sameBytes(ys[i]!, want[i]!), `${isa} ${threads}T n=${n} k=${k} matrix ${i}`).toBe(true);
          }
        });
      }
    });
  }

  it('runs async and inside a recorded program with the same result', async () => {
    const ws = rowsOf.map((m, i) => makeWeights(m, 512, 90 + i).packed);
    const qa = allocQuantizedActivations(16, 512, 'per-block-256');
    quantizeActivations(randomActivations(16 * 512, 5), 16, qa);
    const want = ws.map((w) => {
      const y = new Float32Array(16 * w.rows);
      ternaryMatmul(w, qa, 16, y);
      return y;
    });
    const ys = ws.map((w) => new Float32Array(16 * w.rows));
    await ternaryMatmulGroupAsync(ws, qa, 16, ys);
    for (let i = 0; i < ws.length; i++) expect(sameBytes(ys[i]!, want[i]!)).toBe(true);
    const zs = ws.map((w) => new Float32Array(16 * w.rows));
    const program = recordProgram(() => ternaryMatmulGroup(ws, qa, 16, zs));
    await program.runAsync();
    for (let i = 0; i < ws.length; i++) expect(sameBytes(zs[i]!, want[i]!)).toBe(true);
  });

  it('validates its arguments', () => {
    const a = makeWeights(8, 300, 1).packed;
    const b = makeWeights(5, 300, 2).packed;
    const qa = allocQuantizedActivations(2, 300, 'per-token');
    const ya = new Float32Array(16);
    const yb = new Float32Array(10);
    expect(() => ternaryMatmulGroup([], qa, 1, [])).toThrow(/1 to 4/);
    expect(() => ternaryMatmulGroup([a, b, a, b, a], qa, 1, [ya, yb, ya, yb, ya])).toThrow(/1 to 4/);
    expect(() => ternaryMatmulGroup([a, b], qa, 1, [ya])).toThrow(/one output per matrix/);
    expect(() => ternaryMatmulGroup([a, b], qa, 2, [ya, new Float32Array(9)])).toThrow(/matrix 1/);
    expect(() => ternaryMatmulGroup([a, makeWeights(5, 256, 3).packed], qa, 1, [ya, yb])).toThrow(/cols/);
    expect(() => ternaryMatmulGroup([a, b], qa, 3, [ya, yb])).toThrow(/rows must be in \[1, 2\]/);
    // outputs sharing memory would be written by two threads at once
    expect(() => ternaryMatmulGroup([a, a], qa, 1, [ya, ya])).toThrow(/ys\[0\] and ys\[1\] overlap/);
    const shared = new Float32Array(40);
    expect(() => ternaryMatmulGroup([a, b], qa, 2, [shared.subarray(0, 16), shared.subarray(15)])).toThrow(
      /overlap/,
    );
    ternaryMatmulGroup([a, b], qa, 2, [shared.subarray(0, 16), shared.subarray(16)]); // adjacent is fine
    // the native binding counts its arguments
    const group = (native as unknown as { ternaryMatmulGroup: (...args: unknown[]) => void })
      .ternaryMatmulGroup;
    expect(() => group(1, 512, new Int8Array(512), new Float32Array(2), new Int32Array(2), 0, 1)).toThrow(
      /expected 11 arguments/,
    );
  });
});
