import type { GenerateOptions, Token } from '@ternion/engine';
import { checkCount, type Limits, tokenBudget } from '@ternion/hardening';
import { badRequest, checkTokenIds } from './errors.js';
import type { SamplingFields } from './types.js';

/** Server-side limits a request is checked against. */
export interface RequestLimits extends Readonly<Limits> {
  /** Most choices (`n` × number of prompts) one request may ask for: min(maxN, parallel). */
  maxChoices: number;
  vocabSize: number;
  contextSize: number;
}

/** The endpoint-independent part of a request, in engine terms. */
export interface CommonRequest {
  n: number;
  stream: boolean;
  includeUsage: boolean;
  stop: string[];
  /** Seed of choice 0; choice i uses seed + i so the choices differ yet stay reproducible. */
  seed: number | undefined;
  /** Sampling options shared by every choice (no maxTokens, minTokens, seed, signal, topLogprobs). */
  sampling: GenerateOptions;
  /** vLLM's min_tokens; checked against each choice's max_tokens by resolveMinTokens. */
  minTokens: number | undefined;
}

/** OpenAI's default temperature is 1 (not greedy); a client that sends nothing gets what OpenAI gives. */
const DEFAULT_TEMPERATURE = 1;

export function parseCommon(body: SamplingFields, limits: RequestLimits): CommonRequest {
  const n = body.n ?? 1;
  if (n > limits.maxChoices) {
    throw badRequest('n', `n must be at most ${limits.maxChoices} on this server, got ${n}`);
  }
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  checkCount(stop.length, limits.maxStopStrings, 'stop');
  if (stop.some((s) => s.length === 0)) throw badRequest('stop', 'stop strings must not be empty');

  const sampling: GenerateOptions = {
    temperature: body.temperature ?? DEFAULT_TEMPERATURE,
    topP: body.top_p ?? 1,
    // vLLM's -1 and our 0 both mean "off".
    topK: Math.max(0, body.top_k ?? 0),
    minP: body.min_p ?? 0,
    // OpenAI's presence/frequency penalties count the tokens generated so far (never the prompt);
    // vLLM's repetition_penalty counts the whole sequence, prompt included. penaltyLastN: -1 says "whole"
    // to anything that reads it ('generated' ignores the window).
    penaltyScope: 'generated',
    penaltyLastN: -1,
    presencePenalty: body.presence_penalty ?? 0,
    frequencyPenalty: body.frequency_penalty ?? 0,
    repeatPenalty: body.repetition_penalty ?? 1,
  };
  if (body.ignore_eos === true) sampling.stopOnEog = false;
  if (body.stop_token_ids != null && body.stop_token_ids.length > 0) {
    const ids = body.stop_token_ids;
    checkCount(ids.length, limits.maxStopTokenIds, 'stop_token_ids');
    checkTokenIds(ids, limits.vocabSize, 'stop_token_ids', (bad) => `stop_token_ids[${bad}]`);
    sampling.stopTokenIds = ids as Token[];
  }
  if (body.logit_bias != null) {
    const entries = Object.entries(body.logit_bias);
    checkCount(entries.length, limits.maxLogitBiasEntries, 'logit_bias');
    const bias = new Map<number, number>();
    for (const [key, value] of entries) {
      const id = Number(key);
      if (id >= limits.vocabSize) {
        throw badRequest('logit_bias', `logit_bias: token id ${key} is not in [0, ${limits.vocabSize})`);
      }
      // OpenAI: -100 / 100 mean ban / force; a bias that large does that on any real logit scale.
      bias.set(id, value);
    }
    sampling.logitBias = bias;
  }
  return {
    n,
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
    stop,
    seed: body.seed ?? undefined,
    sampling,
    minTokens: body.min_tokens ?? undefined,
  };
}

/**
 * vLLM's min_tokens must not exceed the tokens the choice may generate (its max_tokens, or what the context
 * leaves when max_tokens is absent or was clamped): a 400 naming min_tokens, never an engine error.
 */
export function resolveMinTokens(
  minTokens: number | undefined,
  maxTokens: number,
  maxTokensParam: string,
): { minTokens?: number } {
  if (minTokens === undefined || minTokens === 0) return {};
  if (minTokens > maxTokens) {
    throw badRequest(
      'min_tokens',
      `min_tokens (${minTokens}) must be at most ${maxTokensParam} (${maxTokens} for this request)`,
    );
  }
  return { minTokens };
}

export interface MaxTokensDecision {
  maxTokens: number;
  /** Set when the requested max_tokens did not fit the context and was lowered. */
  clampedFrom?: number;
}

/**
 * A prompt of P tokens leaves contextSize − P tokens to generate. A larger max_tokens is clamped (the
 * response says so in a header) rather than rejected: the client still gets a completion, ending with
 * finish_reason "length". A prompt that leaves no room is a 400 naming the prompt field; a max_tokens over
 * the server's cap is a 400 naming max_tokens (hardening's tokenBudget).
 */
export function resolveMaxTokens(
  requested: number | undefined,
  promptTokens: number,
  limits: RequestLimits,
  promptParam: 'messages' | 'prompt',
  maxTokensParam: string,
): MaxTokensDecision {
  const budget = tokenBudget({
    promptTokens,
    requestedMaxTokens: requested,
    maxTokensParam,
    promptParam,
    contextSize: limits.contextSize,
    limits,
  });
  return budget.clamped
    ? { maxTokens: budget.maxTokens, clampedFrom: requested! }
    : { maxTokens: budget.maxTokens };
}

/** Unsupported known fields: reject instead of silently doing something else. */
export function rejectUnsupported(body: Record<string, unknown>, fields: readonly string[]): void {
  for (const field of fields) {
    const v = body[field];
    if (v === undefined || v === null || v === false || (Array.isArray(v) && v.length === 0)) continue;
    throw badRequest(field, `'${field}' is not supported by this server`, 'unsupported_parameter');
  }
}
