import {
  allocQuantizedActivations,
  type PackedTernary,
  quantizeActivations,
  ternaryMatmul,
} from '@ternion/kernels-native';
import { describe, expect, it } from 'vitest';
import { KernelChooser } from './kernel-chooser.js';
import { measureKernels } from './measure-kernels.js';
import { createTernaryLinear, LutScratchPool } from './ternary-linear.js';

function weights(rows: number, cols: number): PackedTernary {
  const colsPadded = Math.ceil(cols / 256) * 256;
  const data = new Uint8Array((rows * colsPadded) / 4);
  let s = 7;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    let b = 0;
    for (let f = 0; f < 4; f++) b |= ((s >>> (8 * f)) % 3) << (2 * f);
    data[i] = b;
  }
  // Padding weights must be zero (code 1).
  for (let m = 0; m < rows; m++) {
    for (let k = cols; k < colsPadded; k++) {
      const r = k % 256;
      const at = m * (colsPadded / 4) + Math.floor(k / 256) * 64 + (r % 64);
      const shift = 2 * Math.floor(r / 64);
      data[at] = (data[at]! & ~(3 << shift)) | (1 << shift);
    }
  }
  return {
    rows,
    cols,
    colsPadded,
    data,
    rowScales: Float32Array.from({ length: rows }, (_, i) => 0.01 * (i + 1)),
  };
}

function activations(n: number, cols: number) {
  const qa = allocQuantizedActivations(n, cols, 'per-token');
  const x = Float32Array.from({ length: n * cols }, (_, i) => Math.sin(i * 0.7) * 3);
  quantizeActivations(x, n, qa);
  return qa;
}

describe('createTernaryLinear', () => {
  it('runs the chosen kernel per batch size with the same output bits as ternaryMatmul', async () => {
    const mad = weights(200, 700);
    const chooser = new KernelChooser({
      profilePath: null,
      machineKey: 'm',
      timer: ({ n }) => (n === 1 ? { mad: 1, lut: 2 } : { mad: 2, lut: 1 }),
    });
    const pool = new LutScratchPool();
    const linear = createTernaryLinear(mad, chooser, pool);
    expect(linear.lut).toBeDefined();
    expect(linear.kernelFor(1)).toBe('mad');
    expect(linear.kernelFor(16)).toBe('lut');
    for (const n of [1, 17, 40]) {
      const qa = activations(n, 700);
      const want = new Float32Array(n * 200);
      ternaryMatmul(mad, qa, n, want);
      const y = new Float32Array(n * 200);
      linear.run(qa, n, y);
      expect(Buffer.from(y.buffer).equals(Buffer.from(want.buffer))).toBe(true);
      const ya = new Float32Array(n * 200);
      await linear.runAsync(qa, n, ya);
      expect(Buffer.from(ya.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    }
    expect(pool.bytes).toBeGreaterThan(0);
  });

  it('skips the LUT copy when the chooser never picks it', () => {
    const chooser = new KernelChooser({
      profilePath: null,
      machineKey: 'm',
      timer: () => ({ mad: 1, lut: 5 }),
    });
    const linear = createTernaryLinear(weights(64, 256), chooser, new LutScratchPool());
    expect(linear.lut).toBeUndefined();
    expect(linear.kernelFor(128)).toBe('mad');
  });
});

describe('measureKernels', () => {
  it('times both real kernels within its budget', () => {
    const t0 = Date.now();
    const t = measureKernels(
      { rows: 256, cols: 512, n: 4, mode: 'per-block-256' },
      { budgetMs: 5, residentBytes: 1 << 16 },
    );
    expect(t.mad).toBeGreaterThan(0);
    expect(t.lut).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
