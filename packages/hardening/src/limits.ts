import { HttpError } from './http-error.js';

/** Request-size limits the server enforces. Every field is a positive integer. */
export interface Limits {
  /** Largest accepted request body in bytes (→ 413). The plugin applies it as fastify's `bodyLimit`. */
  maxBodyBytes: number;
  /** Largest prompt in tokens; must not exceed the context size. */
  maxPromptTokens: number;
  /** Upper bound for `max_tokens` / `max_completion_tokens`. */
  maxTokensCap: number;
  /** Upper bound for `n` (choices per request, each its own sequence). */
  maxN: number;
  /** Upper bound for the number of `stop` strings. */
  maxStopStrings: number;
  /** Upper bound for the number of `logit_bias` entries. */
  maxLogitBiasEntries: number;
  /** Upper bound for the number of `stop_token_ids` (vLLM's extra; every one is checked per generated token). */
  maxStopTokenIds: number;
  /** Upper bound for `top_logprobs`. */
  maxTopLogprobs: number;
}

/** Sensible limits for a model with `contextSize` tokens of context (OpenAI's own caps where they exist). */
export function defaultLimits(contextSize: number): Limits {
  requirePositiveInteger(contextSize, 'contextSize');
  return {
    maxBodyBytes: 1 << 20,
    maxPromptTokens: contextSize,
    maxTokensCap: contextSize,
    maxN: 8,
    maxStopStrings: 4,
    maxLogitBiasEntries: 300,
    // vLLM has no cap; 256 covers the special tokens of common vocabularies (Llama 3 reserves 256).
    maxStopTokenIds: 256,
    maxTopLogprobs: 20,
  };
}

/**
 * Checks a limits object (throws TypeError/RangeError naming the field); `contextSize`, when given, also
 * bounds `maxPromptTokens` and `maxTokensCap`. Returns a frozen copy.
 */
export function validateLimits(limits: Limits, contextSize?: number): Readonly<Limits> {
  if (typeof limits !== 'object' || limits === null) {
    throw new TypeError('limits: expected an object with maxBodyBytes, maxPromptTokens, maxTokensCap, ...');
  }
  const keys: (keyof Limits)[] = [
    'maxBodyBytes',
    'maxPromptTokens',
    'maxTokensCap',
    'maxN',
    'maxStopStrings',
    'maxLogitBiasEntries',
    'maxStopTokenIds',
    'maxTopLogprobs',
  ];
  for (const key of keys) requirePositiveInteger(limits[key], `limits.${key}`);
  if (contextSize !== undefined) {
    requirePositiveInteger(contextSize, 'contextSize');
    if (limits.maxPromptTokens > contextSize) {
      throw new RangeError(
        `limits.maxPromptTokens: must be <= the context size ${contextSize}, got ${limits.maxPromptTokens}`,
      );
    }
    if (limits.maxTokensCap > contextSize) {
      throw new RangeError(
        `limits.maxTokensCap: must be <= the context size ${contextSize}, got ${limits.maxTokensCap}`,
      );
    }
  }
  return Object.freeze({ ...limits });
}

export interface TokenBudgetRequest {
  /** Tokens in the tokenized prompt (after the chat template). */
  promptTokens: number;
  /** `max_tokens` / `max_completion_tokens` from the request, if the client sent one. */
  requestedMaxTokens?: number | undefined;
  /** Field name to blame for `requestedMaxTokens` (default `'max_tokens'`). */
  maxTokensParam?: string;
  /** Field name to blame for the prompt (`'messages'` or `'prompt'`, default `'prompt'`). */
  promptParam?: string;
  contextSize: number;
  limits: Pick<Limits, 'maxPromptTokens' | 'maxTokensCap'>;
}

export interface TokenBudget {
  /** How many tokens the sequence may generate. */
  maxTokens: number;
  /** True when the request's `max_tokens` was lowered to fit the context (finish_reason will be 'length'). */
  clamped: boolean;
}

/**
 * Decides how many tokens a request may generate. The prompt must fit `maxPromptTokens` and leave room for at
 * least one generated token (else 400 `context_length_exceeded` naming the prompt field); `max_tokens` above
 * `maxTokensCap` is a 400 naming it; a `max_tokens` that fits the cap but not the remaining context is
 * clamped (OpenAI rejects it instead; clamping keeps small-context local models usable, and `clamped` lets
 * the server say so). Without `max_tokens` the budget is whatever context remains, up to the cap.
 */
export function tokenBudget(request: TokenBudgetRequest): TokenBudget {
  const { promptTokens, requestedMaxTokens, contextSize, limits } = request;
  const promptParam = request.promptParam ?? 'prompt';
  const maxTokensParam = request.maxTokensParam ?? 'max_tokens';
  requirePositiveInteger(contextSize, 'contextSize');
  if (!Number.isInteger(promptTokens) || promptTokens < 0) {
    throw new RangeError(`promptTokens: expected a non-negative integer, got ${String(promptTokens)}`);
  }
  const promptCap = Math.min(limits.maxPromptTokens, contextSize - 1);
  if (promptTokens > promptCap) {
    throw new HttpError(
      400,
      `This model's maximum context length is ${contextSize} tokens and the prompt limit is ${promptCap} tokens, ` +
        `but the prompt has ${promptTokens} tokens. Shorten the ${promptParam}.`,
      { code: 'context_length_exceeded', param: promptParam },
    );
  }
  const room = Math.min(contextSize - promptTokens, limits.maxTokensCap);
  if (requestedMaxTokens === undefined) return { maxTokens: room, clamped: false };
  if (!Number.isInteger(requestedMaxTokens) || requestedMaxTokens < 1) {
    throw new HttpError(
      400,
      `'${maxTokensParam}' must be a positive integer, got ${String(requestedMaxTokens)}.`,
      {
        code: 'invalid_value',
        param: maxTokensParam,
      },
    );
  }
  if (requestedMaxTokens > limits.maxTokensCap) {
    throw new HttpError(
      400,
      `'${maxTokensParam}' is too large: ${requestedMaxTokens}. This server allows at most ${limits.maxTokensCap}.`,
      { code: 'invalid_value', param: maxTokensParam },
    );
  }
  return requestedMaxTokens > room
    ? { maxTokens: room, clamped: true }
    : { maxTokens: requestedMaxTokens, clamped: false };
}

/**
 * Throws a 400 naming `param` when a list-valued field is longer than `max` (`stop`, `logit_bias`, ...).
 * `count` is the length of the array or the number of object keys.
 */
export function checkCount(count: number, max: number, param: string): void {
  if (count > max) {
    throw new HttpError(400, `'${param}' has ${count} entries; at most ${max} are allowed.`, {
      code: 'invalid_value',
      param,
    });
  }
}

function requirePositiveInteger(value: unknown, name: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(
      `${name}: expected a positive integer, got ${typeof value === 'number' ? value : typeof value}`,
    );
  }
  if (value < 1) throw new RangeError(`${name}: expected a positive integer, got ${value}`);
}
