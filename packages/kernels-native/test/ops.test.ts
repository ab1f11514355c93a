import { describe, expect, it } from 'vitest';
import {
  add,
  forEachIsa,
  logitsStats,
  recordProgram,
  relu2Mul,
  rmsNorm,
  rope,
  ropeTable,
  roundToF16,
  scale,
  siluMul,
  softmax,
} from '../lib/index.js';
import { detach, randomF32, rng } from './helpers.js';

const f = Math.fround;
// Ragged lengths: below one vector, vector multiples and tails for 8- and 16-lane paths, multi-chunk counts.
const LENGTHS = [1, 7, 16, 17, 33, 100, 257, 20_011];

/** rmsNorm exactly as ggml does it in float32 with a double sum (the generic kernel must match bit for bit). */
function rmsNormReference(x: Float32Array, w: Float32Array, n: number, d: number, eps: number): Float32Array {
  const out = new Float32Array(n * d); // (n, d)
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < d; c++) sum += f(x[i * d + c]! * x[i * d + c]!);
    const mean = f(sum / d);
    const s = f(1 / f(Math.sqrt(f(mean + f(eps)))));
    for (let c = 0; c < d; c++) out[i * d + c] = f(f(x[i * d + c]! * s) * w[c]!);
  }
  return out;
}

/** Positions where got and want differ (Object.is: -0 ≠ 0, NaN = NaN). */
function mismatches(got: Float32Array, want: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) bad++;
  return bad;
}

/** Largest |got - want| / (rel · |want| + abs). */
function worst(got: Float32Array, want: ArrayLike<number>, rel: number, abs: number): number {
  let w = 0;
  for (let i = 0; i < want.length; i++)
    w = Math.max(w, Math.abs(got[i]! - want[i]!) / (rel * Math.abs(want[i]!) + abs));
  return w;
}

describe('rmsNorm', () => {
  it('matches ggml bit for bit (generic) and within 1 ulp (SIMD), in place and out of place', () => {
    const rand = rng(11);
    for (const d of [1, 7, 16, 33, 100, 2560]) {
      const n = 3;
      const x = randomF32(n * d, rand, 5);
      const w = randomF32(d, rand, 2);
      const eps = 1e-5;
      const want = rmsNormReference(x, w, n, d, eps);
      forEachIsa((isa) => {
        const out = new Float32Array(n * d);
        rmsNorm(x, w, n, d, eps, out);
        if (isa === 'generic') expect(out).toEqual(want);
        else expect(worst(out, want, 2 ** -22, 1e-38), `${isa} d=${d}`).toBeLessThanOrEqual(1);
        const inPlace = x.slice();
        rmsNorm(inPlace, w, n, d, eps, inPlace);
        expect(inPlace).toEqual(out);
      });
    }
  });

  it('rejects bad arguments', () => {
    const x = new Float32Array(8);
    const w = new Float32Array(4);
    expect(() => rmsNorm(x, w, 2, 4, 1e-6, new Float32Array(8))).not.toThrow();
    expect(() => rmsNorm(x, w, 2, 4, 1e-6, new Float32Array(7))).toThrow(RangeError);
    expect(() => rmsNorm(x, new Float64Array(4) as never, 2, 4, 1e-6, x)).toThrow(TypeError);
    expect(() => rmsNorm(x, w, 2, 4, Number.NaN, x)).toThrow(TypeError);
    expect(() => rmsNorm(x, w, 2, 4, -1, x)).toThrow(RangeError);
    expect(() => rmsNorm(x, w, 2, 0, 1e-6, x)).toThrow(RangeError);
    const big = new Float32Array(12);
    expect(() => rmsNorm(big.subarray(0, 8), w, 2, 4, 1e-6, big.subarray(2, 10))).toThrow(/partial overlap/);
    expect(() => rmsNorm(big.subarray(0, 8), big.subarray(6, 10), 2, 4, 1e-6, big.subarray(0, 8))).toThrow(
      /must not overlap weight/,
    );
  });
});

describe('softmax', () => {
  it('matches a double-precision softmax within 4e-6 relative on every ISA', () => {
    const rand = rng(12);
    for (const d of [1, 5, 16, 31, 64, 1000]) {
      const n = 4;
      const x = randomF32(n * d, rand, 20); // logits in [-20, 20]
      if (d > 3) x[2 * d + 1] = -200; // underflows to 0 next to a large logit
      const want = new Float64Array(n * d);
      for (let i = 0; i < n; i++) {
        let max = Number.NEGATIVE_INFINITY;
        for (let c = 0; c < d; c++) max = Math.max(max, x[i * d + c]!);
        let sum = 0;
        for (let c = 0; c < d; c++) sum += Math.exp(f(x[i * d + c]! - max));
        for (let c = 0; c < d; c++) want[i * d + c] = Math.exp(f(x[i * d + c]! - max)) / sum;
      }
      forEachIsa((isa) => {
        const y = x.slice();
        softmax(y, n, d);
        expect(worst(y, want, 4e-6, 1e-37), `${isa} d=${d}`).toBeLessThanOrEqual(1);
      });
    }
  });

  it('rejects bad arguments', () => {
    expect(() => softmax(new Float32Array(5), 2, 3)).toThrow(RangeError);
    expect(() => softmax(new Float32Array(6), 2, 3.5)).toThrow(TypeError);
    expect(() => softmax([1, 2] as never, 1, 2)).toThrow(TypeError);
  });
});

describe('roundToF16', () => {
  it('rounds to the nearest f16 (ties to even), overflows to Infinity and keeps NaN', () => {
    const x = Float32Array.from([
      1 / 3,
      65504,
      65520,
      -65520,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      2 ** -24,
      2 ** -26,
      -0,
      Number.NaN,
    ]);
    const want = [0.333251953125, 65504, Infinity, -Infinity, 1, 1 + 2 ** -9, 2 ** -24, 0, -0, Number.NaN];
    const y = x.slice();
    roundToF16(y, y.length - 1); // the last entry is past count: untouched
    roundToF16(y.subarray(9), 1);
    for (const [i, w] of want.entries()) expect(Object.is(y[i], Math.fround(w)), `${x[i]}`).toBe(true);
    expect(() => roundToF16(new Float32Array(2), 3)).toThrow(RangeError);
  });
});

describe('logitsStats', () => {
  /** The sampler's reference: first strict maximum (NaN ignored), log-sum-exp in double. */
  function reference(x: Float32Array): [number, number, number] {
    let best = 0;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < x.length; i++) {
      if (x[i]! > max) {
        max = x[i]!;
        best = i;
      }
    }
    if (!Number.isFinite(max)) return [best, max, max];
    let sum = 0;
    for (let i = 0; i < x.length; i++) sum += Math.exp(f(x[i]! - max));
    return [best, max, max + Math.log(sum)];
  }

  it('finds the first largest logit exactly and log Σ exp within 1e-6 on every ISA', () => {
    const rand = rng(21);
    for (const d of [...LENGTHS, 32_002, 128_256]) {
      const x = randomF32(d, rand, 20);
      if (d > 40) {
        x[37] = 25; // ties: the first one wins
        x[d - 1] = 25;
        x[5] = Number.NaN; // never the argmax; makes log Σ exp NaN
      }
      const withoutNaN = x.map((v) => (Number.isNaN(v) ? -1 : v));
      for (const row of [x, withoutNaN]) {
        const want = reference(row);
        forEachIsa((isa) => {
          const out = new Float64Array(3);
          // the row sits at an offset inside a larger buffer, as logits rows do
          const buf = new Float32Array(d + 5);
          buf.set(row, 3);
          logitsStats(buf, 3, d, out, false); // argmax and max only
          expect(out[0], `${isa} d=${d} argmax`).toBe(want[0]);
          expect(out[1], `${isa} d=${d} max`).toBe(want[1]);
          expect(out[2]).toBeNaN();
          logitsStats(buf, 3, d, out);
          expect(out[0], `${isa} d=${d} argmax`).toBe(want[0]);
          expect(out[1], `${isa} d=${d} max`).toBe(want[1]);
          if (Number.isNaN(want[2])) expect(out[2]).toBeNaN();
          else
            expect(Math.abs(out[2]! - want[2]), `${isa} d=${d} logZ`).toBeLessThan(
              1e-6 * Math.max(1, Math.abs(want[2])),
            );
        });
      }
    }
  });

  it('handles rows without a finite maximum', () => {
    forEachIsa((isa) => {
      const out = new Float64Array(3);
      logitsStats(new Float32Array(20).fill(Number.NEGATIVE_INFINITY), 0, 20, out);
      expect([...out], isa).toEqual([0, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
      logitsStats(new Float32Array(20).fill(Number.NaN), 0, 20, out);
      expect([...out], isa).toEqual([0, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
      const inf = new Float32Array(20);
      inf[9] = Number.POSITIVE_INFINITY;
      logitsStats(inf, 0, 20, out);
      expect([...out], isa).toEqual([9, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
    });
  });

  it('rejects bad arguments', () => {
    const out = new Float64Array(3);
    expect(() => logitsStats(new Float32Array(5), 2, 4, out)).toThrow(RangeError);
    expect(() => logitsStats(new Float32Array(5), 0, 0, out)).toThrow(RangeError);
    expect(() => logitsStats(new Float32Array(5), -1, 2, out)).toThrow(RangeError);
    expect(() => logitsStats(new Float32Array(5), 0, 5, new Float64Array(2))).toThrow(RangeError);
    expect(() => logitsStats(new Float32Array(5), 0, 5, new Float32Array(3) as never)).toThrow(TypeError);
  });
});

describe('siluMul / relu2Mul / add / scale', () => {
  it('match their references on ragged lengths, every ISA, in place', () => {
    const rand = rng(13);
    for (const count of LENGTHS) {
      const gate = randomF32(count, rand, 12);
      gate[0] = -100; // exp(100) overflows: silu → -0
      if (count > 2) gate[1] = Number.NaN; // relu2 treats NaN as 0
      const up = randomF32(count, rand, 3);
      const silu = new Float64Array(count);
      const relu2 = new Float32Array(count);
      const sum = new Float32Array(count);
      const scaled = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const g = gate[i]!;
        silu[i] = Number.isNaN(g) ? Number.NaN : (g / (1 + Math.exp(-g))) * up[i]!;
        // biome-ignore lint/complexity/useMathMinMax: Math.max keeps NaN; the kernels map a NaN gate to 0
        const r = g > 0 ? g : 0;
        relu2[i] = f(f(r * r) * up[i]!);
        sum[i] = f(gate[i]! + up[i]!);
        scaled[i] = f(up[i]! * f(0.3));
      }
      forEachIsa((isa) => {
        const out = new Float32Array(count);
        siluMul(gate, up, out, count);
        const finite = Float32Array.from(out, (v, i) => (Number.isNaN(silu[i]!) ? 0 : v));
        const wantFinite = Float64Array.from(silu, (v) => (Number.isNaN(v) ? 0 : v));
        expect(worst(finite, wantFinite, 4e-6, 1e-35), `silu ${isa} ${count}`).toBeLessThanOrEqual(1);
        if (count > 2) expect(Number.isNaN(out[1]!)).toBe(true);
        relu2Mul(gate, up, out, count);
        expect(mismatches(out, relu2), `relu2 ${isa} ${count}`).toBe(0);
        add(gate, up, out, count);
        expect(mismatches(out, sum), `add ${isa}`).toBe(0);
        const x = up.slice();
        scale(x, 0.3, count);
        expect(mismatches(x, scaled), `scale ${isa}`).toBe(0);
        // In place: out is the first or the second input.
        const g2 = gate.slice();
        relu2Mul(g2, up, g2, count);
        expect(mismatches(g2, relu2)).toBe(0);
        const u2 = up.slice();
        add(gate, u2, u2, count);
        expect(mismatches(u2, sum)).toBe(0);
        const g3 = gate.slice();
        siluMul(g3, up, g3, count);
        siluMul(gate, up, out, count);
        expect(mismatches(g3, out)).toBe(0);
      });
    }
  });

  it('rejects bad arguments', () => {
    const a = new Float32Array(8);
    expect(() => add(a, a, a, 8)).not.toThrow();
    expect(() => add(a, a, a, 9)).toThrow(RangeError);
    expect(() => add(a, new Int32Array(8) as never, a, 8)).toThrow(TypeError);
    expect(() => add(a, a, a, 0)).toThrow(RangeError);
    expect(() => siluMul(a.subarray(0, 4), a.subarray(4), a.subarray(1, 5), 4)).toThrow(/partial overlap/);
    expect(() => scale(a, Number.POSITIVE_INFINITY, 8)).toThrow(TypeError);
    expect(() => relu2Mul(detach(new Float32Array(8)), a, a, 8)).toThrow(/detached/);
  });
});

/** ggml-cpu rope in float32: theta multiplied up per pair, cos/sin rounded to float. */
function ropeReference(
  x: Float32Array,
  positions: Int32Array,
  n: number,
  nHeads: number,
  headDim: number,
  ropeDim: number,
  base: number,
  neox: boolean,
): Float32Array {
  const out = x.slice(); // (n, nHeads, headDim)
  const thetaScale = f(f(base) ** f(-2 / ropeDim));
  for (let i = 0; i < n; i++) {
    let theta = f(positions[i]!);
    for (let i0 = 0; i0 < ropeDim; i0 += 2) {
      const c = f(Math.cos(theta));
      const s = f(Math.sin(theta));
      for (let h = 0; h < nHeads; h++) {
        const at = (i * nHeads + h) * headDim;
        const a = neox ? at + i0 / 2 : at + i0;
        const b = neox ? a + ropeDim / 2 : a + 1;
        const x0 = x[a]!;
        const x1 = x[b]!;
        out[a] = f(f(x0 * c) - f(x1 * s));
        out[b] = f(f(x0 * s) + f(x1 * c));
      }
      theta = f(theta * thetaScale);
    }
  }
  return out;
}

describe('rope', () => {
  it('rotates like ggml (normal and NeoX, partial ropeDim) on every ISA', () => {
    const rand = rng(14);
    for (const [nHeads, headDim, ropeDim] of [
      [3, 8, 8],
      [2, 64, 64],
      [4, 40, 24],
    ] as const) {
      const n = 5;
      const positions = Int32Array.from([0, 1, 7, 100, 37]);
      const x = randomF32(n * nHeads * headDim, rand, 2);
      for (const neox of [false, true]) {
        const want = ropeReference(x, positions, n, nHeads, headDim, ropeDim, 10000, neox);
        forEachIsa((isa) => {
          const y = x.slice();
          rope(y, positions, n, nHeads, headDim, ropeDim, 10000, neox);
          // libm cosf/sinf/powf may differ from the correctly rounded values by an ulp.
          expect(
            worst(y, want, 0, 2e-5),
            `${isa} neox=${neox} ${nHeads}x${headDim}/${ropeDim}`,
          ).toBeLessThanOrEqual(1);
          for (let t = 0; t < n; t++) {
            for (let h = 0; h < nHeads; h++) {
              const at = (t * nHeads + h) * headDim;
              expect(y.subarray(at + ropeDim, at + headDim)).toEqual(x.subarray(at + ropeDim, at + headDim));
            }
          }
        });
      }
    }
  });

  it('gives the same bits from a ropeTable as computing the rows, across bases, dims and repeated calls', () => {
    // Positions repeat across calls with another base or ropeDim in between; 512 is a long rope dimension.
    const rand = rng(15);
    const positions = Int32Array.from({ length: 40 }, (_, i) => (i * 32 + (i % 3)) % 1000);
    const n = positions.length;
    for (const [headDim, ropeDim] of [
      [64, 64],
      [512, 512],
    ] as const) {
      const x = randomF32(n * 2 * headDim, rand, 2);
      const first = new Map<number, Float32Array>();
      for (let round = 0; round < 2; round++) {
        for (const base of [10000, 500000, 10000]) {
          const y = x.slice();
          rope(y, positions, n, 2, headDim, ropeDim, base, false);
          const want = ropeReference(x, positions, n, 2, headDim, ropeDim, base, false);
          expect(worst(y, want, 0, 2e-5), `base ${base} ${headDim}/${ropeDim}`).toBeLessThanOrEqual(1);
          // every later call with the same arguments gives exactly the first call's result
          const seen = first.get(base);
          if (seen) expect(y).toEqual(seen);
          else first.set(base, y);
          // the shared table: its rows rotate exactly as the kernel's own
          const table = new Float32Array(n * ropeDim); // (n, ropeDim)
          ropeTable(positions, n, ropeDim, base, table);
          const z = x.slice();
          rope(z, positions, n, 2, headDim, ropeDim, base, false, table);
          expect(z).toEqual(y);
        }
      }
    }
  });

  it('matches the closed form theta = pos · base^(-2i/ropeDim) and reads positions at run time', () => {
    const [nHeads, headDim] = [2, 16];
    const x = new Float32Array(nHeads * headDim);
    const positions = new Int32Array(1);
    const program = recordProgram(() => rope(x, positions, 1, nHeads, headDim, headDim, 500000, true));
    const table = new Float32Array(headDim); // (1, ropeDim)
    const tableProgram = recordProgram(() => ropeTable(positions, 1, headDim, 500000, table));
    for (const pos of [3, 11]) {
      for (let i = 0; i < x.length; i++) x[i] = i % headDim < headDim / 2 ? 1 : 0; // (1, 0) in every NeoX pair
      positions[0] = pos;
      program.run();
      tableProgram.run();
      for (let i = 0; i < headDim / 2; i++) {
        const theta = pos * 500000 ** ((-2 * i) / headDim);
        expect(x[i]).toBeCloseTo(Math.cos(theta), 4);
        expect(x[i + headDim / 2]).toBeCloseTo(Math.sin(theta), 4);
        expect(table[2 * i]).toBe(x[i]); // (cos, sin) pairs of this step's position
        expect(table[2 * i + 1]).toBe(x[i + headDim / 2]);
      }
    }
  });

  it('rejects bad arguments', () => {
    const x = new Float32Array(16);
    const p = new Int32Array(2);
    expect(() => rope(x, p, 2, 1, 8, 8, 10000, false)).not.toThrow();
    expect(() => rope(x, p, 2, 1, 8, 7, 10000, false)).toThrow(RangeError);
    expect(() => rope(x, p, 2, 1, 8, 10, 10000, false)).toThrow(RangeError);
    expect(() => rope(x, p, 2, 1, 8, 8, 0, false)).toThrow(RangeError);
    expect(() => rope(x, p, 2, 1, 8, 8, 10000, false, new Float32Array(15))).toThrow(/table/);
    expect(() => ropeTable(p, 2, 8, 10000, new Float32Array(15))).toThrow(/table/);
    expect(() => ropeTable(p, 3, 8, 10000, new Float32Array(24))).toThrow(/positions/);
    expect(() => ropeTable(p, 2, 7, 10000, new Float32Array(16))).toThrow(/even/);
    expect(() => ropeTable(p, 2, 8, -1, new Float32Array(16))).toThrow(/freqBase/);
    expect(() => rope(x, p, 2, 1, 8, 8, 10000, 1 as never)).toThrow(TypeError);
    expect(() => rope(x, new Float32Array(2) as never, 2, 1, 8, 8, 10000, false)).toThrow(TypeError);
    expect(() => rope(x, p, 3, 1, 8, 8, 10000, false)).toThrow(RangeError);
  });
});
