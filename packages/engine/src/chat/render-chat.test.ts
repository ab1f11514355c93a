import { TernionError } from '@ternion/contracts';
import { describe, expect, it } from 'vitest';
import { FALLBACK_CHAT_TEMPLATE, renderChat } from './render-chat.js';

// Meta-Llama-3-8B-Instruct's tokenizer_config.json chat_template.
const LLAMA3_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

// A ChatML template in the style of Qwen/Hermes, with a default system prompt and a role check.
const CHATML_TEMPLATE =
  "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}" +
  "{% for message in messages %}{% if message['role'] not in ['system', 'user', 'assistant'] %}{{ raise_exception('Unknown role: ' + message['role']) }}{% endif %}" +
  "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const chat = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: '  Hi there!  ' },
  { role: 'assistant', content: 'Hello.' },
  { role: 'user', content: 'Tell me a story.' },
];

describe('renderChat', () => {
  it('renders the llama-3 template', () => {
    const text = renderChat(LLAMA3_TEMPLATE, chat, { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>' });
    expect(text).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nTell me a story.<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    const noPrompt = renderChat(LLAMA3_TEMPLATE, chat.slice(0, 2), {
      bosToken: '<|begin_of_text|>',
      addGenerationPrompt: false,
    });
    expect(noPrompt.endsWith('Hi there!<|eot_id|>')).toBe(true);
  });

  it('renders a ChatML template, with its default system prompt', () => {
    expect(renderChat(CHATML_TEMPLATE, [{ role: 'user', content: 'Hi' }])).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('falls back to ChatML when the model has no template', () => {
    const expected = '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n';
    expect(renderChat(undefined, [{ role: 'user', content: 'Hi' }])).toBe(expected);
    expect(renderChat('', [{ role: 'user', content: 'Hi' }])).toBe(expected);
    expect(
      renderChat(FALLBACK_CHAT_TEMPLATE, [{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false }),
    ).toBe('<|im_start|>user\nHi<|im_end|>\n');
  });

  it('passes extra variables through', () => {
    expect(
      renderChat('{{ greeting }} {{ messages | length }}', chat, { variables: { greeting: 'hey' } }),
    ).toBe('hey 4');
  });

  it('reports template errors and rejected chats as TernionErrors', () => {
    const rejected = (() => {
      try {
        renderChat(CHATML_TEMPLATE, [{ role: 'robot', content: 'x' }]);
      } catch (error) {
        return error;
      }
    })();
    expect(TernionError.isInstance(rejected) && rejected.code).toBe('INVALID_ARGUMENT');
    expect((rejected as Error).message).toMatch(/Unknown role: robot/);
    expect(() => renderChat('{% for %}', chat)).toThrow(/chat template does not parse/);
  });

  it('validates its arguments', () => {
    expect(() => renderChat(42 as never, chat)).toThrow(/template must be a string/);
    expect(() => renderChat(undefined, 'hi' as never)).toThrow(/messages must be an array/);
    expect(() => renderChat(undefined, [{ role: 'user' }] as never)).toThrow(
      /messages\[0\].content must be a string/,
    );
    expect(() => renderChat(undefined, [{ role: '', content: 'x' }])).toThrow(/messages\[0\].role/);
    expect(() => renderChat(undefined, chat, { addGenerationPrompt: 'yes' as never })).toThrow(TypeError);
    expect(() => renderChat(undefined, chat, { bosToken: 1 as never })).toThrow(/bosToken/);
  });
});
