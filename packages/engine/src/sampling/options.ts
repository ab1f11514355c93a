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
  /** Divide positive logits / multiply negative logits of recent tokens (1 = off), llama.cpp-style. */
  repeatPenalty?: number;
  /** Subtract frequencyPenalty × count of each recent token (OpenAI semantics; 0 = off). */
  frequencyPenalty?: number;
  /** Subtract presencePenalty from every recent token (0 = off). */
  presencePenalty?: number;
  /** How many recent tokens the penalties look at (default 64; -1 = the whole context). */
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
