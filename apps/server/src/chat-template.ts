import type { Token } from '@ternion/engine';
import { badRequest } from './openai/errors.js';
import type { ChatMessage } from './openai/types.js';

/** A chat rendered to the prompt tokens the model continues, plus the strings that end the assistant turn. */
export interface RenderedChat {
  /** Prompt tokens (BOS included when the model wants one and the template did not write it). */
  tokens: Token[];
  stop: string[];
}

export interface PlainMessage {
  role: string;
  content: string;
}

/**
 * Flattens OpenAI message content to text. Content-part arrays may only hold text parts: images and audio
 * are rejected with a 400 naming the part (the model reads text only).
 */
export function plainMessages(messages: readonly ChatMessage[]): PlainMessage[] {
  return messages.map((m, i) => {
    if (m.content == null) return { role: m.role, content: '' };
    if (typeof m.content === 'string') return { role: m.role, content: m.content };
    let text = '';
    m.content.forEach((part, j) => {
      if (part.type !== 'text' || typeof part.text !== 'string') {
        throw badRequest(
          `messages[${i}].content[${j}]`,
          `content part of type '${part.type}' is not supported (text only)`,
        );
      }
      text += part.text;
    });
    return { role: m.role, content: text };
  });
}
