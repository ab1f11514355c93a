import type { Token } from '@ternion/contracts';

/** How the next token is chosen. Defaults: greedy (temperature 0), no penalties. */
export interface SamplingOptions {
  /** 0 (default) = greedy argmax. */
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set whose probability reaches p (1 = off). */
  topP?: number;
  /** Drop tokens whose probability is below minP × the top probability (0 = off). */
  minP?: number;
  /** Divide positive / multiply negative logits of penalised tokens (1 = off), as llama.cpp and vLLM do. */
  repeatPenalty?: number;
  /** Subtract frequencyPenalty × the count of each penalised token (0 = off). */
  frequencyPenalty?: number;
  /** Subtract presencePenalty once from every penalised token (0 = off). */
  presencePenalty?: number;
  /**
   * Which tokens the penalties count:
   * - 'window' (default, llama.cpp): all three penalties count the last `penaltyLastN` tokens of the
   *   sequence, prompt and earlier turns included.
   * - 'generated' (OpenAI / vLLM): `presencePenalty` and `frequencyPenalty` count every token generated so
   *   far by this `generate()` call and none of its input; `repeatPenalty` (vLLM's repetition_penalty)
   *   covers the whole sequence, input and generated tokens. `penaltyLastN` is ignored.
   */
  penaltyScope?: PenaltyScope;
  /** Recent tokens the penalties look at with `penaltyScope: 'window'` (default 64; -1 = whole context). */
  penaltyLastN?: number;
  /** Added to the logit of each token id before anything else (-Infinity bans a token). */
  logitBias?: ReadonlyMap<number, number> | Readonly<Record<number, number>>;
  /** Seed of the random generator: same seed ⇒ same text. Default: random. */
  seed?: number;
  /** Return the chosen token's log-probability (default false: NaN; it costs a pass over the vocabulary). */
  logprobs?: boolean;
  /** Also return this many most likely alternatives with their log-probabilities (implies `logprobs`). */
  topLogprobs?: number;
}

/** See `SamplingOptions.penaltyScope`. */
export type PenaltyScope = 'window' | 'generated';

/** What one `Sampler.sample()` call needs to know beyond the logits and the history. */
export interface SampleStep {
  /**
   * How many tokens at the end of the history this generation produced (for `penaltyScope: 'generated'`).
   * Default: the whole history.
   */
  numGenerated?: number;
  /** Token ids that must not be chosen this step (logit −Infinity after bias and penalties). */
  banned?: readonly number[];
}

export interface TokenLogprob {
  token: Token;
  logprob: number;
}

export interface SampledToken {
  token: Token;
  /** log-probability of the chosen token under the model's distribution (after bias and penalties); NaN
   * unless `logprobs` or `topLogprobs` was asked for. */
  logprob: number;
  /** The most likely alternatives, when asked for. */
  topLogprobs?: TokenLogprob[];
}
