import { randomBytes } from 'node:crypto';

/** `chatcmpl-…` / `cmpl-…`: a prefix plus 24 random base62-ish characters, like OpenAI's ids. */
export function completionId(prefix: 'chatcmpl' | 'cmpl'): string {
  return `${prefix}-${randomBytes(18).toString('base64url')}`;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
