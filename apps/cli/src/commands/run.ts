import type { GenerateOptions } from '@ternion/engine';
import { type Command, Option } from 'commander';
import { loadWithProgress, type ModelFlags } from '../load.js';
import { modelOptions, samplingOptions } from '../options.js';

export interface SamplingFlags {
  ctxSize?: number;
  maxTokens: number;
  seed?: number;
  temp: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  stop?: string[];
}

export function generateOptions(f: SamplingFlags, signal?: AbortSignal): GenerateOptions {
  const o: GenerateOptions = { maxTokens: f.maxTokens, temperature: f.temp };
  if (f.seed !== undefined) o.seed = f.seed;
  if (f.topK !== undefined) o.topK = f.topK;
  if (f.topP !== undefined) o.topP = f.topP;
  if (f.minP !== undefined) o.minP = f.minP;
  if (f.repeatPenalty !== undefined) o.repeatPenalty = f.repeatPenalty;
  if (f.stop !== undefined) o.stop = f.stop;
  if (signal) o.signal = signal;
  return o;
}

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description('generate a continuation of a prompt, streamed to stdout')
    .argument('[prompt]', 'the prompt', 'Once upon a time');
  for (const o of [...modelOptions(), ...samplingOptions()]) cmd.addOption(o);
  cmd.addOption(new Option('--stats', 'print tokens/s to stderr at the end'));
  cmd.action(async (prompt: string, flags: ModelFlags & SamplingFlags & { stats?: boolean }) => {
    const model = await loadWithProgress(flags);
    const ctxOpts = flags.ctxSize === undefined ? {} : { contextSize: flags.ctxSize };
    const ctx = await model.createContext(ctxOpts);
    const seq = ctx.getSequence();
    const abort = new AbortController();
    const onSigint = (): void => abort.abort();
    process.once('SIGINT', onSigint);
    process.stdout.write(prompt);
    const t0 = performance.now();
    let first = 0;
    let n = 0;
    const it = seq.generate(prompt, generateOptions(flags, abort.signal));
    let result: Awaited<ReturnType<typeof it.next>>;
    while (!(result = await it.next()).done) {
      if (n++ === 0) first = performance.now();
      process.stdout.write(result.value.text);
    }
    process.stdout.write('\n');
    process.off('SIGINT', onSigint);
    if (flags.stats) {
      const t1 = performance.now();
      const gen = n > 1 ? ((n - 1) / (t1 - first)) * 1000 : 0;
      process.stderr.write(
        `prompt ${result.value.promptTokens} tokens, generated ${n} tokens, ${gen.toFixed(1)} tok/s, ` +
          `first token after ${(first - t0).toFixed(0)} ms, finish: ${result.value.finishReason}\n`,
      );
    }
    model.dispose();
  });
}
