import { cpus } from 'node:os';
import { type ActivationQuantization, getThreads, kernelBuildId, kernelInfo } from '@ternion/kernels-native';
import { type KernelTimer, measureKernels } from './measure-kernels.js';
import {
  defaultProfilePath,
  emptyProfile,
  type KernelProfile,
  type KernelTiming,
  loadProfile,
  saveProfile,
} from './profile-store.js';

/** `mad`: ternaryMatmul (VNNI / maddubs multiply-add); `lut`: lutMatmul (table lookup). */
export type TernaryKernel = 'mad' | 'lut';

export interface KernelChoice {
  readonly rows: number;
  readonly cols: number;
  readonly n: number;
  readonly kernel: TernaryKernel;
  readonly timing: KernelTiming;
}

export interface KernelChooserOptions {
  /**
   * Saved profile location; default `$TERNION_TMAC_PROFILE` or `~/.cache/ternion/tmac-profile.json`. `null`
   * keeps measurements in memory only.
   */
  readonly profilePath?: string | null;
  /**
   * Batch sizes measured per shape (default 1, 2, 4, 8, 16, 128); choose(n) uses the largest measured size <= n.
   * The small sizes matter: LUT's cost grows with every activation row while the multiply-add kernels share
   * their weight decoding across rows, so a shape where LUT wins one row (decode) usually loses at 4–15 rows
   * (short prompts) — measured 1.2–2.8x slower on the 700m shapes, which the 1-row figures alone would pick.
   */
  readonly batchSizes?: readonly number[];
  readonly mode?: ActivationQuantization;
  /** Measures one shape (default measureKernels on synthetic data; tests inject a fake). */
  readonly timer?: KernelTimer;
  /** LUT is chosen only when at least this fraction faster than MAD (default 0.03): noise never flips to a slower kernel. */
  readonly margin?: number;
  /** Identifies the machine in the profile (default CPU model | ISA | threads). */
  readonly machineKey?: string;
  /** Always this kernel, nothing measured (A/B runs: `ternion bench` with MAD only, LUT only, chosen). */
  readonly force?: TernaryKernel;
  readonly warn?: (message: string) => void;
}

/** Kernel builds of one machine whose figures a save keeps (the current one and the newest others). */
export const KEEP_BUILDS = 4;

export function currentMachineKey(): string {
  // The kernels' build is part of the key: a profile measured before they changed must be measured again.
  return `${currentMachinePrefix()}${kernelBuildId()}`;
}

/** The key without the kernels' build: CPU model | ISA | threads | */
function currentMachinePrefix(): string {
  const model = cpus()[0]?.model.trim() || 'unknown-cpu';
  return `${model}|${kernelInfo().isa}|${getThreads()}T|`;
}

function checkDim(fn: string, name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 1)
    throw new RangeError(`KernelChooser.${fn}: ${name} must be a positive integer, got ${String(v)}`);
}

/**
 * Picks the faster ternary GEMM kernel per weight shape and batch size: at model load it times ternaryMatmul
 * against lutMatmul for each (rows, cols) and batch size it has no saved figures for, and remembers them in a
 * profile keyed by CPU, ISA, thread count and the kernels' build.
 */
export class KernelChooser {
  readonly machineKey: string;
  readonly batchSizes: readonly number[];
  readonly mode: ActivationQuantization;
  readonly profilePath: string | null;
  private readonly timer: KernelTimer;
  private readonly margin: number;
  private readonly profile: KernelProfile;
  private readonly force: TernaryKernel | undefined;
  private dirty = false;
  /** With the default key: figures of this machine under other kernel builds, dropped on save (stale). */
  private readonly stalePrefix: string | undefined;

  constructor(options: KernelChooserOptions = {}) {
    const warn = options.warn ?? ((m: string) => process.emitWarning(m, 'TernionTmacWarning'));
    this.machineKey = options.machineKey ?? currentMachineKey();
    this.stalePrefix = options.machineKey === undefined ? currentMachinePrefix() : undefined;
    const sizes = [...(options.batchSizes ?? [1, 2, 4, 8, 16, 128])].sort((a, b) => a - b);
    if (sizes.length === 0 || sizes[0] !== 1 || sizes.some((s) => !Number.isSafeInteger(s) || s < 1)) {
      throw new RangeError(
        `KernelChooser: batchSizes must be positive integers including 1, got [${sizes.join(', ')}]`,
      );
    }
    this.batchSizes = sizes;
    this.mode = options.mode ?? 'per-token';
    this.timer = options.timer ?? measureKernels;
    this.margin = options.margin ?? 0.03;
    if (!(this.margin >= 0 && this.margin < 1))
      throw new RangeError(`KernelChooser: margin must be in [0, 1), got ${this.margin}`);
    if (options.force !== undefined && options.force !== 'mad' && options.force !== 'lut') {
      throw new TypeError(`KernelChooser: force must be 'mad' or 'lut', got ${String(options.force)}`);
    }
    this.force = options.force;
    this.profilePath = options.profilePath === undefined ? defaultProfilePath() : options.profilePath;
    this.profile = this.profilePath === null ? emptyProfile() : loadProfile(this.profilePath, warn);
  }

  private shapeKey(rows: number, cols: number): string {
    return `${rows}x${cols}/${this.mode}`;
  }

  private entries(rows: number, cols: number): Record<string, KernelTiming> | undefined {
    return this.profile.machines[this.machineKey]?.[this.shapeKey(rows, cols)];
  }

  /** True when every batch size of this shape has figures (measured now or loaded). */
  has(rows: number, cols: number): boolean {
    if (this.force !== undefined) return true;
    const e = this.entries(rows, cols);
    return e !== undefined && this.batchSizes.every((n) => e[n] !== undefined);
  }

  /** Times the shape at every batch size that has no figures yet (blocks: ~budget ms per size). */
  measure(rows: number, cols: number): void {
    checkDim('measure', 'rows', rows);
    checkDim('measure', 'cols', cols);
    if (this.force !== undefined) return;
    const machine = (this.profile.machines[this.machineKey] ??= {});
    const byN = (machine[this.shapeKey(rows, cols)] ??= {});
    for (const n of this.batchSizes) {
      if (byN[n] !== undefined) continue;
      const t = this.timer({ rows, cols, n, mode: this.mode });
      if (!(t.mad > 0 && t.lut > 0))
        throw new RangeError(`KernelChooser: timer returned a non-positive time for ${rows}x${cols} n=${n}`);
      byN[n] = { mad: t.mad, lut: t.lut };
      this.dirty = true;
    }
  }

  /** The figures choose() uses for n: those of the largest measured batch size <= n. */
  timing(rows: number, cols: number, n: number): KernelTiming | undefined {
    checkDim('timing', 'n', n);
    const e = this.entries(rows, cols);
    if (e === undefined) return undefined;
    let best: KernelTiming | undefined;
    for (const size of this.batchSizes) if (size <= n && e[size] !== undefined) best = e[size];
    return best;
  }

  /** 'lut' only where it measured faster by the margin; 'mad' for unmeasured shapes (or the forced kernel). */
  choose(rows: number, cols: number, n: number): TernaryKernel {
    const t = this.timing(rows, cols, n);
    if (this.force !== undefined) return this.force;
    return t !== undefined && t.lut < t.mad * (1 - this.margin) ? 'lut' : 'mad';
  }

  /** Whether any batch size of the shape runs the LUT kernel (so its LUT weights are worth building). */
  usesLut(rows: number, cols: number): boolean {
    return this.batchSizes.some((n) => this.choose(rows, cols, n) === 'lut');
  }

  /** Every measured (shape, batch size) on this machine with its choice: for `ternion bench --verbose`. */
  choices(): KernelChoice[] {
    const out: KernelChoice[] = [];
    for (const [key, byN] of Object.entries(this.profile.machines[this.machineKey] ?? {})) {
      const m = /^(\d+)x(\d+)\/(.+)$/.exec(key);
      if (m === null || m[3] !== this.mode) continue;
      const rows = Number(m[1]);
      const cols = Number(m[2]);
      for (const [n, timing] of Object.entries(byN)) {
        out.push({ rows, cols, n: Number(n), kernel: this.choose(rows, cols, Number(n)), timing });
      }
    }
    return out.sort((a, b) => a.rows - b.rows || a.cols - b.cols || a.n - b.n);
  }

  /**
   * Writes new measurements to the profile file (no-op without a path or without new figures). With the default
   * machine key, only the newest KEEP_BUILDS kernel builds of this machine keep their figures (keys are kept in
   * the order they were first saved): the file no longer grows with every rebuild, and two builds in use side by
   * side (a global CLI and a project's copy) never delete each other's figures.
   */
  save(): void {
    if (this.profilePath === null || !this.dirty) return;
    // Another process may have saved figures since this one loaded the file: start from what is on disk now
    // and put this machine key's figures (the only ones this chooser measures) over it.
    const onDisk = loadProfile(this.profilePath, () => {});
    this.profile.machines = {
      ...onDisk.machines,
      [this.machineKey]: { ...onDisk.machines[this.machineKey], ...this.profile.machines[this.machineKey] },
    };
    if (this.stalePrefix !== undefined) {
      const prefix = this.stalePrefix;
      const builds = Object.keys(this.profile.machines).filter(
        (k) => k.startsWith(prefix) && k !== this.machineKey,
      );
      for (const key of builds.slice(0, Math.max(0, builds.length - (KEEP_BUILDS - 1)))) {
        delete this.profile.machines[key];
      }
    }
    saveProfile(this.profilePath, this.profile);
    this.dirty = false;
  }
}
