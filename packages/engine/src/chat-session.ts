import { TernionError, type Token } from '@ternion/contracts';
import { type ChatMessage, renderChat } from './chat/index.js';
import type { GenerateOptions, GenerationChunk, GenerationResult, Sequence } from './sequence.js';

export interface ChatSessionOptions {
  /** A first system message. */
  systemPrompt?: string;
  /** A Jinja chat template; default: the model's `tokenizer.chat_template`, else ChatML. */
  template?: string;
}

/**
 * A conversation on one sequence: applies the chat template, keeps the history, and re-uses the KV cache of
 * the longest common token prefix between turns (only the new turn is computed).
 */
export class ChatSession {
  readonly messages: ChatMessage[] = [];
  private readonly template: string | undefined;

  constructor(
    readonly sequence: Sequence,
    options: ChatSessionOptions = {},
  ) {
    this.template = options.template ?? sequence.context.model.tokenizer.chatTemplate;
    if (options.systemPrompt !== undefined)
      this.messages.push({ role: 'system', content: options.systemPrompt });
  }

  /** The conversation so far rendered as the model's prompt, ready for the assistant's next turn. */
  renderPrompt(messages: readonly ChatMessage[] = this.messages): Token[] {
    const model = this.sequence.context.model;
    const tk = model.tokenizer;
    const bos = tk.bosId === undefined ? '' : tk.tokenText(tk.bosId);
    const eos = tk.eosId === undefined ? '' : tk.tokenText(tk.eosId);
    const text = renderChat(this.template, messages, {
      addGenerationPrompt: true,
      bosToken: bos,
      eosToken: eos,
    });
    // A template that writes bos_token itself must not get a second BOS from the tokenizer.
    const addBos = !(bos !== '' && text.startsWith(bos));
    return model.tokenize(text, { addBos, parseSpecial: true });
  }

  /** Streams the assistant's reply to `userText`; the reply joins the history when it ends. */
  async *promptStream(
    userText: string,
    options: GenerateOptions = {},
  ): AsyncGenerator<GenerationChunk, GenerationResult, undefined> {
    if (typeof userText !== 'string') throw new TypeError('ChatSession.prompt: the message must be a string');
    const turn: ChatMessage[] = [...this.messages, { role: 'user', content: userText }];
    const prompt = this.renderPrompt(turn);
    const seq = this.sequence;
    const have = seq.tokens;
    let common = 0;
    while (common < have.length && common < prompt.length - 1 && have[common] === prompt[common]) common++;
    seq.truncate(common);
    const it = seq.generate(prompt.slice(common), options);
    let result: IteratorResult<GenerationChunk, GenerationResult>;
    while (!(result = await it.next()).done) yield result.value;
    if (result.value.finishReason === 'abort') {
      throw new TernionError('ABORTED', 'chat turn aborted');
    }
    this.messages.push(
      { role: 'user', content: userText },
      { role: 'assistant', content: result.value.text },
    );
    return result.value;
  }

  /** The assistant's whole reply to `userText`. */
  async prompt(userText: string, options: GenerateOptions = {}): Promise<string> {
    const it = this.promptStream(userText, options);
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value.text;
    }
  }
}
