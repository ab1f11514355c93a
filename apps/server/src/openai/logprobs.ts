import type { Token, TokenLogprob } from '@ternion/engine';
import type { ChatTokenLogprob, CompletionLogprobs } from './types.js';

/** One generated token as the shape mappers see it. */
export interface GeneratedToken {
  token: Token;
  logprob: number;
  topLogprobs?: readonly TokenLogprob[];
}

export type TokenBytes = (token: Token) => Uint8Array;

const lenientUtf8 = new TextDecoder('utf-8');

/**
 * A token's text for logprobs. A byte-fallback token holding part of a UTF-8 character decodes to U+FFFD,
 * as in OpenAI's responses; `bytes` carries the exact bytes so a client can join them.
 */
export function tokenString(bytes: Uint8Array): string {
  return lenientUtf8.decode(bytes);
}

/** OpenAI's -9999.0 convention for "impossible" instead of -Infinity, which JSON cannot carry. */
export function finiteLogprob(lp: number): number {
  return Number.isFinite(lp) ? lp : -9999;
}

/** Chat: `choices[].logprobs.content[]`. */
export function chatLogprobs(tokens: readonly GeneratedToken[], bytesOf: TokenBytes): ChatTokenLogprob[] {
  return tokens.map((t) => {
    const bytes = bytesOf(t.token);
    return {
      token: tokenString(bytes),
      logprob: finiteLogprob(t.logprob),
      bytes: Array.from(bytes),
      top_logprobs: (t.topLogprobs ?? []).map((alt) => {
        const b = bytesOf(alt.token);
        return { token: tokenString(b), logprob: finiteLogprob(alt.logprob), bytes: Array.from(b) };
      }),
    };
  });
}

/**
 * Legacy completions: parallel arrays. `text_offset` counts UTF-16 code units from the start of the prompt
 * text (OpenAI counts the prompt in, so the first offset is the prompt's length).
 */
export function completionLogprobs(
  tokens: readonly GeneratedToken[],
  bytesOf: TokenBytes,
  startOffset: number,
  withTop: boolean,
): CompletionLogprobs {
  const out: CompletionLogprobs = {
    tokens: [],
    token_logprobs: [],
    top_logprobs: withTop ? [] : null,
    text_offset: [],
  };
  let offset = startOffset;
  for (const t of tokens) {
    const s = tokenString(bytesOf(t.token));
    out.tokens.push(s);
    out.token_logprobs.push(finiteLogprob(t.logprob));
    out.text_offset.push(offset);
    offset += s.length;
    if (out.top_logprobs) {
      // Null prototype: token texts such as "__proto__" or "constructor" must become plain keys.
      const top: Record<string, number> = Object.create(null);
      for (const alt of t.topLogprobs ?? []) {
        const key = tokenString(bytesOf(alt.token));
        // Two ids can render to the same text; keep the likelier, as a dict cannot hold both.
        if (!Object.hasOwn(top, key) || top[key]! < alt.logprob) top[key] = finiteLogprob(alt.logprob);
      }
      out.top_logprobs.push(top);
    }
  }
  return out;
}
