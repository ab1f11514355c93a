import { getLlama, type Llama, type LlamaModel } from 'node-llama-cpp';

let llama: Promise<Llama> | undefined;

/** llama.cpp (node-llama-cpp's prebuilt CPU binary), loaded once per test process. */
export function getOracle(): Promise<Llama> {
  llama ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' as never, vramPadding: 0 });
  return llama;
}

export async function loadOracleModel(modelPath: string): Promise<LlamaModel> {
  const l = await getOracle();
  return l.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
}

/** llama.cpp's greedy continuation of `prompt` (token ids, BOS included) for `n` tokens. */
/**
 * Contexts without flash attention: node-llama-cpp defaults to 'auto', which on the CPU turns ggml's flash
 * attention on, and that accumulates P·V in f16 — 10-30× further from an f32 reference than llama.cpp's
 * regular attention path (measured on the synthetic 700m model: centred logit cosine 0.99990 vs 0.99996).
 */
const CONTEXT_DEFAULTS = { batchSize: 512, flashAttention: false } as const;

export async function oracleGreedy(
  model: LlamaModel,
  prompt: number[],
  n: number,
  threads = 2,
): Promise<number[]> {
  const ctx = await model.createContext({
    contextSize: Math.max(256, prompt.length + n + 8),
    threads,
    ...CONTEXT_DEFAULTS,
  });
  try {
    const seq = ctx.getSequence();
    const out: number[] = [];
    for await (const t of seq.evaluate(prompt as never[], { temperature: 0 })) {
      out.push(t);
      if (out.length >= n) break;
    }
    return out;
  } finally {
    await ctx.dispose();
  }
}

/**
 * llama.cpp's next-token log-probabilities after `prompt` (full vocabulary, temperature 1, no truncation).
 * log p = logit − logZ, so centred log-probabilities equal centred logits.
 */
export async function oracleLogprobs(
  model: LlamaModel,
  prompt: number[],
  threads = 2,
): Promise<Float64Array> {
  const ctx = await model.createContext({
    contextSize: Math.max(256, prompt.length + 8),
    threads,
    ...CONTEXT_DEFAULTS,
  });
  try {
    const seq = ctx.getSequence();
    for await (const r of seq.evaluateWithMetadata(
      prompt as never[],
      { probabilities: true },
      { temperature: 1, topK: 0, topP: 1, minP: 0 },
    )) {
      const probs = r.probabilities;
      let max = 0;
      for (const id of probs.keys()) if ((id as number) > max) max = id as number;
      const out = new Float64Array(max + 1).fill(Number.NEGATIVE_INFINITY);
      for (const [id, p] of probs) out[id as number] = Math.log(p);
      return out;
    }
    throw new Error('llama.cpp produced no token');
  } finally {
    await ctx.dispose();
  }
}

/**
 * The entries finite in both vectors, each vector minus its mean over them. llama.cpp's float32
 * probabilities underflow to 0 (log 0 = −∞) for tokens ~100 nats below the best; those carry no information.
 */
function centredFinite(a: ArrayLike<number>, b: ArrayLike<number>): { x: Float64Array; y: Float64Array } {
  const keep: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++)
    if (Number.isFinite(a[i]!) && Number.isFinite(b[i]!)) keep.push(i);
  const x = Float64Array.from(keep, (i) => a[i]!);
  const y = Float64Array.from(keep, (i) => b[i]!);
  const mx = x.reduce((s, v) => s + v, 0) / x.length;
  const my = y.reduce((s, v) => s + v, 0) / y.length;
  return { x: x.map((v) => v - mx), y: y.map((v) => v - my) };
}

/** Cosine similarity after centring (shift-invariant, like logits), over the entries finite in both. */
export function centredCosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const { x, y } = centredFinite(a, b);
  let dot = 0;
  let nx = 0;
  let ny = 0;
  for (let i = 0; i < x.length; i++) {
    dot += x[i]! * y[i]!;
    nx += x[i]! * x[i]!;
    ny += y[i]! * y[i]!;
  }
  return dot / Math.sqrt(nx * ny);
}
