import { TernionError } from '@ternion/contracts';
import { describe, expect, it } from 'vitest';
import { openGguf } from '../gguf/index.js';
import { TokenType, tokenizerSpecFromMetadata } from './spec.js';
import { SHARED_SPM_MODEL } from './test-vocabs.fixture.js';
import { Tokenizer } from './tokenizer.js';

const fromRecord = (record: Record<string, unknown>) => tokenizerSpecFromMetadata((key) => record[key]);

describe('tokenizerSpecFromMetadata', () => {
  it('reads the shared SentencePiece model', () => {
    const file = openGguf(SHARED_SPM_MODEL);
    const spec = tokenizerSpecFromMetadata((key) => file.get(key));
    expect(spec.model).toBe('llama');
    expect(spec.tokens.length).toBe(2048);
    expect(spec.tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(Array.from(spec.tokenTypes ?? []).slice(0, 4)).toEqual([
      TokenType.Unknown,
      TokenType.Control,
      TokenType.Control,
      TokenType.Byte,
    ]);
    expect(spec).toMatchObject({
      bosId: 1,
      eosId: 2,
      unkId: 0,
      addBos: true,
      addEos: false,
      addSpacePrefix: true,
    });
    // The README's example.
    expect(Array.from(new Tokenizer(spec).encode('Once upon a time'))).toEqual([1, 414, 438, 261, 386]);
  });

  it('applies llama.cpp defaults when flags are missing', () => {
    const spm = fromRecord({
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': ['<unk>', '<s>', '</s>', 'a'],
    });
    expect(spm).toMatchObject({
      bosId: 1,
      eosId: 2,
      unkId: 0,
      addBos: true,
      addEos: false,
      addSpacePrefix: true,
    });
    const bpe = fromRecord({
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'llama-bpe',
      'tokenizer.ggml.tokens': ['a', 'b', 'ab'],
      'tokenizer.ggml.merges': ['a b'],
      'tokenizer.ggml.bos_token_id': 2n,
    });
    expect(bpe).toMatchObject({ bosId: 2, addBos: true, addSpacePrefix: false });
    expect(bpe.eosId).toBeUndefined();
    const gpt2 = fromRecord({
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'gpt-2',
      'tokenizer.ggml.tokens': ['a'],
      'tokenizer.ggml.merges': [],
    });
    expect(gpt2.addBos).toBe(false);
  });

  it('lets metadata flags override the defaults and converts typed arrays', () => {
    const spec = fromRecord({
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': ['<unk>', '<s>', '</s>', 'a'],
      'tokenizer.ggml.scores': new Int32Array([0, 0, 0, -3]),
      'tokenizer.ggml.token_type': new Uint32Array([2, 3, 3, 1]),
      'tokenizer.ggml.add_bos_token': false,
      'tokenizer.ggml.add_space_prefix': false,
      'tokenizer.ggml.eos_token_id': 99, // out of range: ignored like llama.cpp, keeping the default
      'tokenizer.chat_template': '{{ messages }}',
    });
    expect(spec).toMatchObject({
      addBos: false,
      addSpacePrefix: false,
      eosId: 2,
      chatTemplate: '{{ messages }}',
    });
    expect(Array.from(spec.scores ?? [])).toEqual([0, 0, 0, -3]);
    expect(Array.from(spec.tokenTypes ?? [])).toEqual([2, 3, 3, 1]);
  });

  it('rejects unsupported or malformed metadata with a clear error', () => {
    expect(() => fromRecord({ 'tokenizer.ggml.model': 'bert', 'tokenizer.ggml.tokens': ['a'] })).toThrow(
      /bert.*not supported/,
    );
    expect(() => fromRecord({ 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': 'abc' })).toThrow(
      /tokenizer.ggml.tokens must be an array of strings/,
    );
    expect(() => fromRecord({ 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a'] })).toThrow(
      /tokenizer.ggml.merges/,
    );
    expect(() =>
      fromRecord({
        'tokenizer.ggml.model': 'llama',
        'tokenizer.ggml.tokens': ['a', 'b'],
        'tokenizer.ggml.scores': [0],
      }),
    ).toThrow(/at least 2 entries/);
    expect(() =>
      fromRecord({
        'tokenizer.ggml.model': 'llama',
        'tokenizer.ggml.tokens': ['a'],
        'tokenizer.ggml.add_bos_token': 'yes',
      }),
    ).toThrow(/add_bos_token must be a boolean/);
    try {
      fromRecord({ 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': [1, 2] });
      expect.unreachable();
    } catch (error) {
      expect(TernionError.isInstance(error) && error.code).toBe('TOKENIZER_INVALID');
    }
    expect(() => tokenizerSpecFromMetadata('nope' as never)).toThrow(TypeError);
  });
});
