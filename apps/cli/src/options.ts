import { InvalidArgumentError, Option } from 'commander';

export function parseIntArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got '${value}'`);
    }
    return n;
  };
}

export function parseFloatArg(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got '${value}'`);
    }
    return n;
  };
}

/** Flags shared by every command that loads a model. */
export function modelOptions(): Option[] {
  return [
    new Option('-m, --model <path>', 'GGUF model file (default: the bundled TinyStories model)'),
    new Option('-t, --threads <n>', 'native threads (default: physical cores)').argParser(
      parseIntArg('--threads', 1, 256),
    ),
    new Option(
      '--activation-quant <mode>',
      "int8 activation grouping: 'per-token' or 'per-block-256' (default: from the file's origin)",
    ).choices(['per-token', 'per-block-256']),
    new Option('--output-int8', 'keep an int8 copy of the output matrix (faster decode, tiny accuracy cost)'),
    new Option(
      '--ternary-kernel <kind>',
      "ternary GEMM: 'auto' (measured per shape), 'mad' (multiply-add) or 'lut' (T-MAC)",
    ).choices(['auto', 'mad', 'lut']),
    new Option(
      '--round-like-llamacpp',
      "compute like llama.cpp's CPU backend (f16 roundings, its dot-product order) to compare outputs; slower",
    ),
  ];
}

/** Sampling flags for run / chat. */
export function samplingOptions(): Option[] {
  return [
    new Option('-c, --ctx-size <n>', 'context size in tokens').argParser(parseIntArg('--ctx-size', 16)),
    new Option('-n, --max-tokens <n>', 'tokens to generate')
      .argParser(parseIntArg('--max-tokens', 0))
      .default(128),
    new Option('-s, --seed <n>', 'random seed (same seed ⇒ same text)').argParser(
      parseIntArg('--seed', 0, 2 ** 32 - 1),
    ),
    new Option('--temp <t>', 'temperature (0 = greedy)').argParser(parseFloatArg('--temp', 0, 10)).default(0),
    new Option('--top-k <k>', 'top-k (0 = off)').argParser(parseIntArg('--top-k', 0)),
    new Option('--top-p <p>', 'top-p (1 = off)').argParser(parseFloatArg('--top-p', 0.000001, 1)),
    new Option('--min-p <p>', 'min-p (0 = off)').argParser(parseFloatArg('--min-p', 0, 1)),
    new Option('--repeat-penalty <x>', 'repetition penalty (1 = off)').argParser(
      parseFloatArg('--repeat-penalty', 0.01, 10),
    ),
    new Option('--stop <s...>', 'stop strings'),
  ];
}
