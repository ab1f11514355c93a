import { asToken } from '@ternion/contracts';
import { logitsStats } from '@ternion/kernels-native';
import type { SampledToken, SampleStep, SamplingOptions, TokenLogprob } from './options.js';
import { Rng } from './rng.js';

/**
 * Turns one row of logits into a token. The order follows llama.cpp's default chain: logit bias → penalties
 * → bans → (greedy | top-k → top-p → min-p → temperature → draw). Scratch buffers are allocated once per vocab
 * size.
 */
export class Sampler {
  private readonly rng: Rng;
  private readonly opts: Required<Omit<SamplingOptions, 'logitBias' | 'seed' | 'logprobs'>>;
  private readonly wantLogprob: boolean;
  private readonly bias: [number, number][];
  // (vocab) working copy of the logits, and candidate ids
  private work: Float32Array;
  private ids: Int32Array;
  // (vocab) unnormalised probabilities of the candidates of one draw; made at the first draw (greedy
  // sampling never draws, and a sampler is made per generation)
  private weights: Float64Array | undefined;
  // (3) argmax, max and (only when log-probabilities are asked for) log Σ exp of `work` — native and
  // vectorised: a JS pass over a 128k vocabulary costs ~0.3 ms per token, paid per stream on the one JS thread
  private readonly stats = new Float64Array(3);

  constructor(
    readonly vocabSize: number,
    options: SamplingOptions = {},
  ) {
    this.opts = {
      temperature: options.temperature ?? 0,
      topK: options.topK ?? 0,
      topP: options.topP ?? 1,
      minP: options.minP ?? 0,
      repeatPenalty: options.repeatPenalty ?? 1,
      frequencyPenalty: options.frequencyPenalty ?? 0,
      presencePenalty: options.presencePenalty ?? 0,
      penaltyScope: options.penaltyScope ?? 'window',
      penaltyLastN: options.penaltyLastN ?? 64,
      topLogprobs: options.topLogprobs ?? 0,
    };
    validate(this.opts, vocabSize);
    this.wantLogprob = options.logprobs === true || this.opts.topLogprobs > 0;
    this.bias = normalizeBias(options.logitBias, vocabSize);
    this.rng = new Rng(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.work = new Float32Array(vocabSize);
    this.ids = new Int32Array(vocabSize);
  }

  /**
   * Samples from `logits` (vocab) given the tokens so far (`history`, for penalties; its last
   * `step.numGenerated` tokens are this generation's output), never choosing a `step.banned` token.
   */
  sample(logits: Float32Array, history: ArrayLike<number>, step: SampleStep = {}): SampledToken {
    const o = this.opts;
    const v = this.vocabSize;
    if (logits.length < v)
      throw new RangeError(`Sampler: logits has ${logits.length} entries, vocab is ${v}`);
    const numGenerated = step.numGenerated ?? history.length;
    if (!Number.isInteger(numGenerated) || numGenerated < 0 || numGenerated > history.length) {
      throw new RangeError(
        `Sampler: numGenerated must be an integer in [0, ${history.length}] (the history length), got ${numGenerated}`,
      );
    }
    const banned = step.banned ?? [];
    for (const id of banned) {
      if (!Number.isInteger(id) || id < 0 || id >= v)
        throw new RangeError(`Sampler: banned token id ${id} is not in [0, ${v})`);
    }
    const x = this.work;
    x.set(logits.subarray(0, v));
    for (const [id, b] of this.bias) x[id] = (x[id] ?? 0) + b;
    this.applyPenalties(x, history, numGenerated);
    for (const id of banned) x[id] = Number.NEGATIVE_INFINITY;

    const stats = this.stats;
    logitsStats(x, 0, v, stats, this.wantLogprob); // argmax, max (and logZ) of x
    let chosen: number;
    if (o.temperature <= 0) {
      chosen = stats[0]!;
    } else {
      chosen = this.draw(x, stats[1]!);
    }
    if (!Number.isFinite(x[chosen] ?? Number.NaN)) {
      // Every token banned (all -Infinity): fall back to the raw argmax rather than emit garbage, but never
      // to a token banned for this step (it would end a generation that must go on).
      chosen = argmaxExcept(logits.subarray(0, v), banned);
    }
    if (!this.wantLogprob) return { token: asToken(chosen), logprob: Number.NaN };
    const logZ = stats[2]!;
    const result: SampledToken = { token: asToken(chosen), logprob: (x[chosen] ?? 0) - logZ };
    if (o.topLogprobs > 0) result.topLogprobs = topN(x, o.topLogprobs, logZ);
    return result;
  }

  private applyPenalties(x: Float32Array, history: ArrayLike<number>, numGenerated: number): void {
    const o = this.opts;
    if (o.repeatPenalty === 1 && o.frequencyPenalty === 0 && o.presencePenalty === 0) return;
    const n = history.length;
    if (o.penaltyScope === 'window') {
      // llama.cpp (llama_sampler_penalties): one window of recent tokens for all three
      const start = o.penaltyLastN < 0 ? 0 : Math.max(0, n - o.penaltyLastN);
      this.penalize(
        x,
        countTokens(history, start, n),
        o.repeatPenalty,
        o.frequencyPenalty,
        o.presencePenalty,
      );
      return;
    }
    // vLLM (apply_penalties): repetition over prompt + output first, then frequency and presence over the
    // output tokens only
    if (o.repeatPenalty !== 1) this.penalize(x, countTokens(history, 0, n), o.repeatPenalty, 0, 0);
    if (o.frequencyPenalty !== 0 || o.presencePenalty !== 0) {
      const output = countTokens(history, n - numGenerated, n);
      this.penalize(x, output, 1, o.frequencyPenalty, o.presencePenalty);
    }
  }

  /** x[t] ← repeat-penalised x[t] − count·frequency − presence, for every token t in `counts`. */
  private penalize(
    x: Float32Array,
    counts: Map<number, number>,
    repeat: number,
    frequency: number,
    presence: number,
  ): void {
    for (const [t, c] of counts) {
      if (t < 0 || t >= this.vocabSize) continue;
      let l = x[t]!;
      if (repeat !== 1) l = l > 0 ? l / repeat : l * repeat;
      l -= c * frequency + presence;
      x[t] = l;
    }
  }

  /** A temperature draw from x, whose largest entry is `maxLogit`. */
  private draw(x: Float32Array, maxLogit: number): number {
    const o = this.opts;
    const v = this.vocabSize;
    const ids = this.ids;
    let count: number;
    if (o.topK > 0) {
      count = selectTop(x, ids, Math.min(o.topK, v));
    } else if (o.topP < 1) {
      // top-p needs candidates in order. Tokens more than 30 nats below the best carry < 1e-13 of the mass
      // each, so they cannot change which set reaches p; sorting only the rest keeps a 128k vocab cheap.
      count = 0;
      for (let i = 0; i < v; i++) if (x[i]! >= maxLogit - 30) ids[count++] = i;
      sortByLogitDesc(x, ids, count);
    } else {
      // No truncation by rank: every token is a candidate, no sort needed.
      count = 0;
      for (let i = 0; i < v; i++) if (x[i]! > Number.NEGATIVE_INFINITY) ids[count++] = i;
    }
    // probabilities at temperature 1 decide top-p / min-p (llama.cpp applies temperature afterwards)
    if (o.topP < 1) {
      let sum = 0;
      for (let i = 0; i < count; i++) sum += Math.exp(x[ids[i]!]! - maxLogit);
      let acc = 0;
      for (let i = 0; i < count; i++) {
        acc += Math.exp(x[ids[i]!]! - maxLogit) / sum;
        if (acc >= o.topP) {
          count = i + 1;
          break;
        }
      }
    }
    if (o.minP > 0) {
      // keep p_i ≥ minP · p_max, i.e. logit_i ≥ maxLogit + ln(minP)
      const threshold = maxLogit + Math.log(o.minP);
      let kept = 0;
      for (let i = 0; i < count; i++) if (x[ids[i]!]! >= threshold) ids[kept++] = ids[i]!;
      count = kept;
    }
    // temperature, then one draw (weights kept, so exp runs once per candidate)
    this.weights ??= new Float64Array(this.vocabSize);
    const w = this.weights;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const e = Math.exp((x[ids[i]!]! - maxLogit) / o.temperature);
      w[i] = e;
      total += e;
    }
    let r = this.rng.nextFloat() * total;
    for (let i = 0; i < count; i++) {
      r -= w[i]!;
      if (r < 0) return ids[i]!;
    }
    return ids[count - 1]!;
  }
}

/** How often each token occurs in history[start, end). */
function countTokens(history: ArrayLike<number>, start: number, end: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = start; i < end; i++) {
    const t = history[i]!;
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return counts;
}

function validate(
  o: Required<Omit<SamplingOptions, 'logitBias' | 'seed' | 'logprobs'>>,
  vocabSize: number,
): void {
  const check = (ok: boolean, name: string, expected: string, value: number): void => {
    if (!ok) throw new RangeError(`sampling option ${name}: expected ${expected}, got ${value}`);
  };
  check(Number.isInteger(vocabSize) && vocabSize > 0, 'vocabSize', 'a positive integer', vocabSize);
  check(Number.isFinite(o.temperature) && o.temperature >= 0, 'temperature', 'a number ≥ 0', o.temperature);
  check(Number.isInteger(o.topK) && o.topK >= 0, 'topK', 'an integer ≥ 0', o.topK);
  check(o.topP > 0 && o.topP <= 1, 'topP', 'a number in (0, 1]', o.topP);
  check(o.minP >= 0 && o.minP <= 1, 'minP', 'a number in [0, 1]', o.minP);
  check(
    Number.isFinite(o.repeatPenalty) && o.repeatPenalty > 0,
    'repeatPenalty',
    'a number > 0',
    o.repeatPenalty,
  );
  check(Number.isFinite(o.frequencyPenalty), 'frequencyPenalty', 'a finite number', o.frequencyPenalty);
  check(Number.isFinite(o.presencePenalty), 'presencePenalty', 'a finite number', o.presencePenalty);
  if (o.penaltyScope !== 'window' && o.penaltyScope !== 'generated') {
    throw new RangeError(
      `sampling option penaltyScope: expected 'window' or 'generated', got ${o.penaltyScope}`,
    );
  }
  check(
    Number.isInteger(o.penaltyLastN) && o.penaltyLastN >= -1,
    'penaltyLastN',
    'an integer ≥ -1',
    o.penaltyLastN,
  );
  check(
    Number.isInteger(o.topLogprobs) && o.topLogprobs >= 0 && o.topLogprobs <= 100,
    'topLogprobs',
    'an integer in [0, 100]',
    o.topLogprobs,
  );
}

function normalizeBias(bias: SamplingOptions['logitBias'], vocabSize: number): [number, number][] {
  if (bias === undefined) return [];
  const entries: [number, number][] =
    bias instanceof Map ? [...bias.entries()] : Object.entries(bias).map(([k, b]) => [Number(k), b]);
  for (const [id, b] of entries) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new RangeError(`sampling option logitBias: token id ${id} is not in [0, ${vocabSize})`);
    }
    if (typeof b !== 'number' || Number.isNaN(b)) {
      throw new RangeError(`sampling option logitBias: bias of token ${id} must be a number, got ${b}`);
    }
  }
  return entries;
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** The index of the largest value of x that is not in `except` (0 if there is none). */
function argmaxExcept(x: ArrayLike<number>, except: readonly number[]): number {
  if (except.length === 0) return argmax(x);
  const skip = new Set(except);
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < x.length; i++) {
    if (skip.has(i)) continue;
    const v = x[i]!;
    if (best < 0 || v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return Math.max(best, 0);
}

/** Sorts ids[0..count) by x descending (ties by id, so the order is deterministic). */
function sortByLogitDesc(x: Float32Array, ids: Int32Array, count: number): void {
  const sorted = Array.from(ids.subarray(0, count)).sort((a, b) => x[b]! - x[a]! || a - b);
  ids.set(sorted);
}

/** Fills ids[0..k) with the indices of the k largest values of x, sorted descending; returns k. */
function selectTop(x: Float32Array, ids: Int32Array, k: number): number {
  const v = x.length;
  if (k >= v) {
    for (let i = 0; i < v; i++) ids[i] = i;
    sortByLogitDesc(x, ids, v);
    return v;
  }
  // A sorted window of the best k so far: O(V + k·log k) for the small k samplers use.
  const top: number[] = [];
  for (let i = 0; i < v; i++) {
    const val = x[i]!;
    if (top.length === k && val <= x[top[k - 1]!]!) continue;
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x[top[mid]!]! >= val) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, i);
    if (top.length > k) top.pop();
  }
  ids.set(top);
  return top.length;
}

function topN(x: Float32Array, n: number, logZ: number): TokenLogprob[] {
  const ids = new Int32Array(x.length);
  const count = selectTop(x, ids, Math.min(n, x.length));
  return Array.from(ids.subarray(0, count), (id) => ({ token: asToken(id), logprob: x[id]! - logZ }));
}
