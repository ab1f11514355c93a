import { statSync } from 'node:fs';
import { native, nativeBinaryPath } from './native.js';

export type Isa = 'generic' | 'avx2' | 'avx512';

export interface CpuFeatures {
  arch: 'x64' | 'arm64' | 'other';
  sse42: boolean;
  avx: boolean;
  avx2: boolean;
  fma: boolean;
  f16c: boolean;
  bmi2: boolean;
  avx512f: boolean;
  avx512bw: boolean;
  avx512vl: boolean;
  avx512dq: boolean;
  avx512vnni: boolean;
  avx512vbmi: boolean;
  avxvnni: boolean;
  /** The OS saves YMM (AVX) registers on context switch. */
  osYmm: boolean;
  /** The OS saves ZMM and opmask (AVX-512) registers on context switch. */
  osZmm: boolean;
  physicalCores: number;
}

export interface KernelInfo {
  /** The ISA level kernels dispatch on now. */
  isa: Isa;
  /** The best level this CPU and OS support. */
  bestIsa: Isa;
  /** Every level this machine can run, lowest first. */
  supportedIsas: Isa[];
  threads: number;
  /** Kernel name → the implementation that runs at the current level. */
  kernels: Record<string, string>;
}

interface RuntimeNative {
  cpuFeatures(): CpuFeatures;
  kernelInfo(): KernelInfo;
  setThreads(n: number): void;
  getThreads(): number;
  setIsa(isa: Isa): void;
}
const n = native as unknown as RuntimeNative;

/** What CPUID (and XGETBV for OS register support) reported. */
export function cpuFeatures(): CpuFeatures {
  return n.cpuFeatures();
}

/** The ISA level in use, the thread count, and which implementation each kernel runs. */
export function kernelInfo(): KernelInfo {
  return n.kernelInfo();
}

/** Sizes the native thread pool (default: physical cores). Kernels split their rows over it. */
export function setThreads(threads: number): void {
  if (!Number.isInteger(threads))
    throw new TypeError(`setThreads: threads must be an integer, got ${threads}`);
  if (threads < 1 || threads > 256)
    throw new RangeError(`setThreads: threads must be in [1, 256], got ${threads}`);
  n.setThreads(threads);
}

export function getThreads(): number {
  return n.getThreads();
}

/**
 * Forces kernels onto a lower ISA level (tests and benchmarks compare paths this way). The environment
 * variable `TERNION_ISA=generic|avx2|avx512` does the same at load. Throws RangeError above `bestIsa`.
 */
export function setIsa(isa: Isa): void {
  if (isa !== 'generic' && isa !== 'avx2' && isa !== 'avx512') {
    throw new TypeError(`setIsa: expected 'generic', 'avx2' or 'avx512', got ${String(isa)}`);
  }
  n.setIsa(isa);
}

/** Runs `fn` once per ISA level this machine supports, restoring the level afterwards. */
export function forEachIsa(fn: (isa: Isa) => void): void {
  const before = kernelInfo().isa;
  try {
    for (const isa of kernelInfo().supportedIsas) {
      setIsa(isa);
      fn(isa);
    }
  } finally {
    setIsa(before);
  }
}

/**
 * Identifies the kernels' build (size and modification time of the loaded binary): measurements saved on
 * disk (e.g. @ternion/tmac's kernel profile) are keyed by it so they are retaken after the kernels change.
 */
export function kernelBuildId(): string {
  try {
    const st = statSync(nativeBinaryPath);
    return `${st.size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}`;
  } catch {
    return 'unknown-build';
  }
}
