import type { FinishedChoice, ResponseHeader } from './chat-shapes.js';
import { completionLogprobs, type GeneratedToken, type TokenBytes } from './logprobs.js';
import type { OpenAiFinishReason, Usage } from './types.js';

/** How a completion choice renders its logprobs: top-k wanted, and where its text starts. */
export interface CompletionLogprobSpec {
  top: number;
  /** Length of the prompt text, the first text_offset. */
  promptLength: number;
}

export function textCompletion(
  head: ResponseHeader,
  choices: readonly FinishedChoice[],
  usage: Usage,
  bytesOf: TokenBytes,
  logprobSpec: (index: number) => CompletionLogprobSpec | undefined,
) {
  return {
    id: head.id,
    object: 'text_completion' as const,
    created: head.created,
    model: head.model,
    system_fingerprint: head.system_fingerprint,
    choices: choices.map((c) => {
      const spec = logprobSpec(c.index);
      return {
        index: c.index,
        text: c.text,
        logprobs:
          spec && c.tokens ? completionLogprobs(c.tokens, bytesOf, spec.promptLength, spec.top > 0) : null,
        finish_reason: c.finishReason,
      };
    }),
    usage,
  };
}

/** One streamed `text_completion` object (the legacy endpoint streams the same object type). */
export function completionChunk(
  head: ResponseHeader,
  index: number,
  text: string,
  finishReason: OpenAiFinishReason | null,
  logprobs: { tokens: readonly GeneratedToken[]; spec: CompletionLogprobSpec; offset: number } | undefined,
  bytesOf: TokenBytes,
  includeUsage: boolean,
) {
  return {
    id: head.id,
    object: 'text_completion' as const,
    created: head.created,
    model: head.model,
    system_fingerprint: head.system_fingerprint,
    choices: [
      {
        index,
        text,
        logprobs: logprobs
          ? completionLogprobs(logprobs.tokens, bytesOf, logprobs.offset, logprobs.spec.top > 0)
          : null,
        finish_reason: finishReason,
      },
    ],
    ...(includeUsage ? { usage: null } : {}),
  };
}

export function completionUsageChunk(head: ResponseHeader, usage: Usage) {
  return {
    id: head.id,
    object: 'text_completion' as const,
    created: head.created,
    model: head.model,
    system_fingerprint: head.system_fingerprint,
    choices: [],
    usage,
  };
}
