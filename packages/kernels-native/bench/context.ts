import { measureReadBandwidth } from '../lib/memory.js';
import { getThreads, setThreads } from '../lib/runtime.js';

/** What every kernel benchmark gets: the machine's measured read bandwidth and timing helpers. */
export interface BenchContext {
  /** DRAM read bandwidth in GB/s measured in this run with `threads` threads (cached per thread count). */
  readGBps(threads: number): number;
  /** Median wall time in seconds of `reps` calls of `fn` (after one warm-up call). */
  median(fn: () => void, reps: number): number;
  /** Median of an async function's wall time. */
  medianAsync(fn: () => Promise<void>, reps: number): Promise<number>;
  print(line: string): void;
  /** True for a quick run (`--quick`): fewer shapes and repetitions. */
  quick: boolean;
}

export function createBenchContext(options: { quick: boolean }): BenchContext {
  const bandwidth = new Map<number, number>();
  // 512 MiB: 16× the 32 MiB L3, so the probe streams DRAM.
  let probe: Uint8Array | undefined;
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] ?? Number.NaN;
  };
  return {
    quick: options.quick,
    readGBps(threads: number): number {
      const cached = bandwidth.get(threads);
      if (cached !== undefined) return cached;
      probe ??= new Uint8Array(512 << 20).fill(1);
      const before = getThreads();
      setThreads(threads);
      const r = measureReadBandwidth(probe, 5);
      setThreads(before);
      const gbps = r.bytesPerSecond / 1e9;
      bandwidth.set(threads, gbps);
      return gbps;
    },
    median(fn: () => void, reps: number): number {
      fn();
      const times: number[] = [];
      for (let i = 0; i < reps; i++) {
        const t0 = process.hrtime.bigint();
        fn();
        times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      return median(times);
    },
    async medianAsync(fn: () => Promise<void>, reps: number): Promise<number> {
      await fn();
      const times: number[] = [];
      for (let i = 0; i < reps; i++) {
        const t0 = process.hrtime.bigint();
        await fn();
        times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      return median(times);
    },
    print(line: string): void {
      process.stdout.write(`${line}\n`);
    },
  };
}
