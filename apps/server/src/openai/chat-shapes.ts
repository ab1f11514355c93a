import { chatLogprobs, type GeneratedToken, type TokenBytes } from './logprobs.js';
import type { OpenAiFinishReason, Usage } from './types.js';

/** Fields every object of one response shares. */
export interface ResponseHeader {
  id: string;
  created: number;
  model: string;
  system_fingerprint: string;
}

export interface FinishedChoice {
  index: number;
  text: string;
  finishReason: OpenAiFinishReason;
  /** Present when logprobs were asked for. */
  tokens?: readonly GeneratedToken[];
}

export function chatCompletion(
  head: ResponseHeader,
  choices: readonly FinishedChoice[],
  usage: Usage,
  bytesOf: TokenBytes,
) {
  return {
    id: head.id,
    object: 'chat.completion' as const,
    created: head.created,
    model: head.model,
    system_fingerprint: head.system_fingerprint,
    choices: choices.map((c) => ({
      index: c.index,
      message: { role: 'assistant' as const, content: c.text, refusal: null },
      logprobs: c.tokens ? { content: chatLogprobs(c.tokens, bytesOf), refusal: null } : null,
      finish_reason: c.finishReason,
    })),
    usage,
  };
}

type ChunkChoice = {
  index: number;
  delta: { role?: 'assistant'; content?: string };
  logprobs: { content: ReturnType<typeof chatLogprobs>; refusal: null } | null;
  finish_reason: OpenAiFinishReason | null;
};

/**
 * One `chat.completion.chunk`. With stream_options.include_usage every chunk carries `usage: null` and a
 * last chunk with no choices carries the totals (OpenAI's documented behaviour).
 */
export function chatChunk(
  head: ResponseHeader,
  choices: ChunkChoice[],
  includeUsage: boolean,
  usage: Usage | null = null,
) {
  return {
    id: head.id,
    object: 'chat.completion.chunk' as const,
    created: head.created,
    model: head.model,
    system_fingerprint: head.system_fingerprint,
    choices,
    ...(includeUsage ? { usage } : {}),
  };
}

/** The first delta of a choice announces the role. */
export function chatRoleDelta(index: number): ChunkChoice {
  return { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null };
}

export function chatContentDelta(
  index: number,
  text: string,
  tokens: readonly GeneratedToken[] | undefined,
  bytesOf: TokenBytes,
): ChunkChoice {
  return {
    index,
    delta: { content: text },
    logprobs: tokens ? { content: chatLogprobs(tokens, bytesOf), refusal: null } : null,
    finish_reason: null,
  };
}

export function chatFinishDelta(index: number, finishReason: OpenAiFinishReason): ChunkChoice {
  return { index, delta: {}, logprobs: null, finish_reason: finishReason };
}
