import {
  type ActivationQuantization,
  allocLutScratch,
  allocQuantizedActivations,
  type Isa,
  kernelInfo,
  lutMatmul,
  lutPack,
  quantizeActivations,
  randomPackedTernary,
  ternaryMatmul,
} from '@ternion/kernels-native';
import { layoutForShape } from './layout-for-shape.js';
import type { KernelTiming } from './profile-store.js';

export interface MeasureShape {
  readonly rows: number;
  readonly cols: number;
  /** Activation rows per call (1 = decode GEMV). */
  readonly n: number;
  readonly mode: ActivationQuantization;
}

/** Times both kernels at one shape: median seconds per call. The chooser takes any function of this type. */
export type KernelTimer = (shape: MeasureShape) => KernelTiming;

export interface MeasureOptions {
  /** Stop after this much wall time per shape once each kernel ran `minReps` (default 5) times (default 40 ms). */
  readonly budgetMs?: number;
  readonly minReps?: number;
  readonly maxReps?: number;
  /**
   * Weight copies are rotated over at least this many bytes (default 64 MiB, twice a 32 MiB L3), so each call
   * reads its weights from DRAM as a real forward pass over a model larger than the caches does.
   */
  readonly residentBytes?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * The default KernelTimer: ternaryMatmul against lutMatmul (tiles from layoutForShape) on synthetic weights
 * and activations, calls alternating so load changes hit both kernels alike. Runs on the calling thread with
 * the current ISA level and thread count.
 */
export function measureKernels(shape: MeasureShape, options: MeasureOptions = {}): KernelTiming {
  const { rows, cols, n, mode } = shape;
  const budget = (options.budgetMs ?? 40) / 1e3;
  const minReps = options.minReps ?? 5;
  const maxReps = options.maxReps ?? 25;
  const isa: Isa = kernelInfo().isa;
  const layout = layoutForShape(rows, cols, isa);
  const mad = randomPackedTernary(rows, cols, rows * 2654435761 + cols);
  const copies = Math.max(1, Math.ceil((options.residentBytes ?? 64 << 20) / mad.data.length));
  const mads = [mad];
  for (let i = 1; i < copies; i++) mads.push({ ...mad, data: mad.data.slice() });
  const lut = lutPack(mad, { rowsPerTile: layout.rowsPerTile, blocksPerChunk: layout.blocksPerChunk });
  const luts = [lut];
  for (let i = 1; i < copies; i++) luts.push({ ...lut, data: lut.data.slice() });

  const qa = allocQuantizedActivations(n, cols, mode);
  const x = new Float32Array(n * cols); // (n, cols)
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) * 2;
  quantizeActivations(x, n, qa);
  const y = new Float32Array(n * rows); // (n, rows)
  const scratch = allocLutScratch(cols, Math.min(n, layout.scratchRows));

  let i = 0;
  ternaryMatmul(mads[0]!, qa, n, y);
  lutMatmul(luts[0]!, qa, n, y, scratch);
  const madTimes: number[] = [];
  const lutTimes: number[] = [];
  const start = process.hrtime.bigint();
  while (madTimes.length < maxReps) {
    const k = i++ % copies;
    let t0 = process.hrtime.bigint();
    ternaryMatmul(mads[k]!, qa, n, y);
    madTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
    t0 = process.hrtime.bigint();
    lutMatmul(luts[(k + (copies >> 1)) % copies]!, qa, n, y, scratch);
    lutTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (madTimes.length >= minReps && Number(process.hrtime.bigint() - start) / 1e9 > budget) break;
  }
  return { mad: median(madTimes), lut: median(lutTimes) };
}
