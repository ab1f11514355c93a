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
 * Cosine similarity of two vectors after subtracting each one's mean (shift-invariant, like logits), over
 * the entries where both are finite (llama.cpp's float32 probabilities underflow to 0, log 0 = −∞, for
 * tokens ~100 nats below the best; those carry no information either way).
 */
export function centredCosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) if (Number.isFinite(a[i]!) && Number.isFinite(b[i]!)) keep.push(i);
  let ma = 0;
  let mb = 0;
  for (const i of keep) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= keep.length;
  mb /= keep.length;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const i of keep) {
    const x = a[i]! - ma;
    const y = b[i]! - mb;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / Math.sqrt(na * nb);
}
