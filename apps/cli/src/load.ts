import { type LoadModelOptions, loadModel, type Model } from '@ternion/engine';
import cliProgress from 'cli-progress';
import { defaultModelPath } from './default-model.js';

export interface ModelFlags {
  model?: string;
  threads?: number;
  activationQuant?: 'per-token' | 'per-block-256';
  outputInt8?: boolean;
  ternaryKernel?: 'auto' | 'mad' | 'lut';
  roundLikeLlamacpp?: boolean;
}

export function resolveModelPath(flag: string | undefined): string {
  if (flag) return flag;
  const found = defaultModelPath();
  if (!found)
    throw new Error('no --model given and the bundled model was not found (models/ folder missing)');
  return found;
}

/** Loads a model with a progress bar on an interactive terminal. */
export async function loadWithProgress(flags: ModelFlags): Promise<Model> {
  const path = resolveModelPath(flags.model);
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: 'loading {bar} {value}/{total} layers', stream: process.stderr, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  const options: LoadModelOptions = {
    outputInt8: flags.outputInt8 ?? false,
    onProgress: ({ done, total }) => {
      if (!bar) return;
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
  };
  if (flags.threads !== undefined) options.threads = flags.threads;
  if (flags.activationQuant !== undefined) options.activationQuantization = flags.activationQuant;
  if (flags.ternaryKernel !== undefined) options.ternaryKernel = flags.ternaryKernel;
  if (flags.roundLikeLlamacpp) options.roundLikeLlamaCpp = true;
  try {
    return await loadModel(path, options);
  } finally {
    if (started) bar?.stop();
  }
}
