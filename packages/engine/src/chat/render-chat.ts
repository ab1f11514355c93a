import { Template } from '@huggingface/jinja';
import { TernionError } from '@ternion/contracts';

/** One chat turn. `role` is usually system, user, assistant or tool; templates decide what they accept. */
export interface ChatMessage {
  role: string;
  content: string;
}

export interface RenderChatOptions {
  /** End with the header that opens the assistant's turn. Default true. */
  addGenerationPrompt?: boolean;
  /** The BOS token text the template may write (`bos_token`), e.g. `<|begin_of_text|>`. Default ''. */
  bosToken?: string;
  /** The EOS token text the template may write (`eos_token`). Default ''. */
  eosToken?: string;
  /** More variables for the template (e.g. `tools`, `date_string`). Cannot override the ones above. */
  variables?: Readonly<Record<string, unknown>>;
}

/**
 * The template used when a model has none: ChatML, which is also llama.cpp's default
 * (`llama_chat_apply_template` falls back to "chatml"). Each turn is
 * `<|im_start|>{role}\n{content}<|im_end|>\n`; the generation prompt is `<|im_start|>assistant\n`.
 * Models that never saw ChatML will not know these markers; give such models a template.
 */
export const FALLBACK_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Parsed templates by source; a model's template is parsed once, not per request. */
const cache = new Map<string, Template>();
const CACHE_LIMIT = 32;

function compile(source: string): Template {
  let template = cache.get(source);
  if (template === undefined) {
    try {
      template = new Template(source);
    } catch (error) {
      throw new TernionError(
        'TOKENIZER_INVALID',
        `chat template does not parse: ${(error as Error).message}`,
        {
          cause: error,
          hint: 'The model file has a chat template @huggingface/jinja cannot read; pass your own template.',
        },
      );
    }
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(source, template);
  }
  return template;
}

function checkMessages(messages: unknown): asserts messages is readonly ChatMessage[] {
  if (!Array.isArray(messages)) throw new TypeError('messages must be an array of { role, content }');
  messages.forEach((m: unknown, i) => {
    if (typeof m !== 'object' || m === null)
      throw new TypeError(`messages[${i}] must be an object { role, content }`);
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || role.length === 0)
      throw new TypeError(`messages[${i}].role must be a non-empty string`);
    if (typeof content !== 'string')
      throw new TypeError(`messages[${i}].content must be a string, got ${typeof content}`);
  });
}

/**
 * Renders a chat with a model's Jinja chat template (`tokenizer.chat_template`), with the variables
 * Hugging Face templates expect: `messages`, `add_generation_prompt`, `bos_token`, `eos_token`.
 * `template` undefined or empty selects {@link FALLBACK_CHAT_TEMPLATE}.
 *
 * The result contains special-token texts: encode it with `parseSpecial: true`, and with `addBos: false`
 * when the template already wrote `bos_token` (llama-3's does).
 */
export function renderChat(
  template: string | undefined,
  messages: readonly ChatMessage[],
  options: RenderChatOptions = {},
): string {
  if (template !== undefined && typeof template !== 'string')
    throw new TypeError(`template must be a string or undefined, got ${typeof template}`);
  checkMessages(messages);
  const { addGenerationPrompt = true, bosToken = '', eosToken = '', variables = {} } = options;
  if (typeof addGenerationPrompt !== 'boolean')
    throw new TypeError('options.addGenerationPrompt must be a boolean');
  if (typeof bosToken !== 'string') throw new TypeError('options.bosToken must be a string');
  if (typeof eosToken !== 'string') throw new TypeError('options.eosToken must be a string');
  if (typeof variables !== 'object' || variables === null)
    throw new TypeError('options.variables must be an object');

  const compiled = compile(template === undefined || template === '' ? FALLBACK_CHAT_TEMPLATE : template);
  try {
    return compiled.render({
      ...variables,
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: addGenerationPrompt,
      bos_token: bosToken,
      eos_token: eosToken,
    });
  } catch (error) {
    // Templates reject chats they cannot express (raise_exception), e.g. roles that do not alternate.
    throw new TernionError(
      'INVALID_ARGUMENT',
      `chat template rejected the messages: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
