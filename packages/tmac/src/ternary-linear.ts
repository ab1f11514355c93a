import {
  allocLutScratch,
  kernelInfo,
  type LutWeights,
  lutMatmul,
  lutMatmulAsync,
  lutPack,
  lutScratchBytes,
  type PackedTernary,
  type QuantizedActivations,
  ternaryMatmul,
  ternaryMatmulAsync,
} from '@ternion/kernels-native';
import type { KernelChooser, TernaryKernel } from './kernel-chooser.js';
import { layoutForShape } from './layout-for-shape.js';

/**
 * LUT table scratch shared by the linears of one model: one buffer per column count, sized for the largest
 * request. Calls that share a pool must not overlap (a forward pass runs its matmuls one after another).
 */
export class LutScratchPool {
  private readonly buffers = new Map<number, Uint8Array>();

  get(cols: number, activationRows: number): Uint8Array {
    const want = lutScratchBytes(cols, activationRows);
    const have = this.buffers.get(cols);
    if (have !== undefined && have.length >= want) return have;
    const buf = allocLutScratch(cols, activationRows);
    this.buffers.set(cols, buf);
    return buf;
  }

  /** Bytes held. */
  get bytes(): number {
    let total = 0;
    for (const b of this.buffers.values()) total += b.length;
    return total;
  }
}

/** One ternary projection y = x W^T that runs whichever kernel the chooser measured faster for the batch size. */
export interface TernaryLinear {
  readonly rows: number;
  readonly cols: number;
  readonly mad: PackedTernary;
  /** Built only when the chooser picks the LUT kernel for some batch size of this shape. */
  readonly lut: LutWeights | undefined;
  kernelFor(n: number): TernaryKernel;
  /** y (n, rows) from a (n rows of activations); same output bits whichever kernel runs. */
  run(a: QuantizedActivations, n: number, y: Float32Array): void;
  runAsync(a: QuantizedActivations, n: number, y: Float32Array): Promise<void>;
}

/**
 * Wraps packed weights: measures the shape if the chooser has no figures yet (blocking, ~0.1-0.5 s per new
 * shape, then saved in the profile), builds the LUT copy only if it will be used.
 */
export function createTernaryLinear(
  mad: PackedTernary,
  chooser: KernelChooser,
  scratch: LutScratchPool,
): TernaryLinear {
  const { rows, cols } = mad;
  if (!chooser.has(rows, cols)) chooser.measure(rows, cols);
  const layout = layoutForShape(rows, cols, kernelInfo().isa);
  const lut = chooser.usesLut(rows, cols)
    ? lutPack(mad, { rowsPerTile: layout.rowsPerTile, blocksPerChunk: layout.blocksPerChunk })
    : undefined;
  const kernelFor = (n: number): TernaryKernel => (lut !== undefined ? chooser.choose(rows, cols, n) : 'mad');
  const scratchFor = (n: number): Uint8Array => scratch.get(cols, Math.min(n, layout.scratchRows));
  return {
    rows,
    cols,
    mad,
    lut,
    kernelFor,
    run(a, n, y) {
      if (lut !== undefined && kernelFor(n) === 'lut') lutMatmul(lut, a, n, y, scratchFor(n));
      else ternaryMatmul(mad, a, n, y);
    },
    runAsync(a, n, y) {
      if (lut !== undefined && kernelFor(n) === 'lut') return lutMatmulAsync(lut, a, n, y, scratchFor(n));
      return ternaryMatmulAsync(mad, a, n, y);
    },
  };
}
