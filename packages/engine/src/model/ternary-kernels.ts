import type { ActivationQuantization } from '@ternion/contracts';
import {
  createTernaryLinear,
  type KernelChoice,
  KernelChooser,
  LutScratchPool,
  type TernaryLinear,
} from '@ternion/tmac';
import type { ModelWeights } from './weights.js';

/**
 * Which ternary GEMM runs each projection: 'auto' times the multiply-add (VNNI) kernel against the T-MAC
 * lookup-table kernel per weight shape and batch size (once per machine; the profile is saved, see
 * @ternion/tmac) and keeps the faster; 'mad' and 'lut' force one. Both give bit-identical results.
 */
export type TernaryKernelMode = 'auto' | 'mad' | 'lut';

/** The seven projections of one layer, each bound to its chosen kernel(s). */
export interface LayerLinears {
  q: TernaryLinear;
  k: TernaryLinear;
  v: TernaryLinear;
  o: TernaryLinear;
  gate: TernaryLinear;
  up: TernaryLinear;
  down: TernaryLinear;
}

export interface TernaryKernels {
  readonly mode: TernaryKernelMode;
  readonly layers: LayerLinears[];
  /** What was measured and chosen, per (rows, cols, batch size). */
  choices(): KernelChoice[];
}

export function bindTernaryKernels(
  weights: ModelWeights,
  mode: TernaryKernelMode,
  activationQuantization: ActivationQuantization,
): TernaryKernels {
  const chooser = new KernelChooser({
    mode: activationQuantization,
    ...(mode === 'auto' ? {} : { force: mode, profilePath: null }),
  });
  const pool = new LutScratchPool();
  const bind = (w: Parameters<typeof createTernaryLinear>[0]): TernaryLinear =>
    createTernaryLinear(w, chooser, pool);
  const layers = weights.layers.map((L) => ({
    q: bind(L.wq),
    k: bind(L.wk),
    v: bind(L.wv),
    o: bind(L.wo),
    gate: bind(L.wGate),
    up: bind(L.wUp),
    down: bind(L.wDown),
  }));
  if (mode === 'auto') chooser.save();
  // The chooser's profile is per machine and may hold other models' shapes: report this model's only.
  const shapes = new Set(
    layers.flatMap((L) => Object.values(L).map((t: TernaryLinear) => `${t.rows}x${t.cols}`)),
  );
  return { mode, layers, choices: () => chooser.choices().filter((c) => shapes.has(`${c.rows}x${c.cols}`)) };
}
