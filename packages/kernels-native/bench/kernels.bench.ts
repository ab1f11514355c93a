/**
 * `npm run bench -w @ternion/kernels-native` (add `--quick` for a short run, or module names to run only
 * those: `ternary`, `dense`, `attention`). Not part of the tests. Every module prints its napkin math against
 * the read bandwidth this run measures.
 */
import { loadavg } from 'node:os';
import { cpuFeatures, kernelInfo } from '../lib/index.js';
import * as attention from './attention.bench.js';
import { createBenchContext } from './context.js';
import * as dense from './dense.bench.js';
import * as lut from './lut.bench.js';
import * as ternary from './ternary.bench.js';

const modules = { ternary, lut, dense, attention } as const;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const ctx = createBenchContext({ quick });
  const f = cpuFeatures();
  const info = kernelInfo();
  ctx.print(`# @ternion/kernels-native benchmark`);
  ctx.print(
    `cpu: ${f.physicalCores} physical cores, best ISA ${info.bestIsa}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  for (const t of [1, 2])
    ctx.print(`measured read bandwidth, ${t} thread${t > 1 ? 's' : ''}: ${ctx.readGBps(t).toFixed(1)} GB/s`);
  for (const [name, mod] of Object.entries(modules)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    ctx.print(`\n## ${name}`);
    await mod.run(ctx);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
