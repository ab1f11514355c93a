import { TernionError } from '@ternion/contracts';
import { describe, expect, it } from 'vitest';
import { idOf, smallBpeSpec, smallSpmSpec } from './test-vocabs.fixture.js';
import { Tokenizer } from './tokenizer.js';

const spm = new Tokenizer(smallSpmSpec());

describe('Tokenizer construction', () => {
  it('exposes vocabulary facts', () => {
    const spec = smallSpmSpec();
    expect(spm.vocabSize).toBe(spec.tokens.length);
    expect(spm).toMatchObject({
      model: 'llama',
      bosId: 1,
      eosId: 2,
      unkId: 0,
      addBos: true,
      addEos: false,
      addSpacePrefix: true,
    });
    expect(spm.tokenText(idOf(spec, '▁ab'))).toBe('▁ab');
    expect(spm.tokenId('▁ab')).toBe(idOf(spec, '▁ab'));
    expect(spm.tokenId('nope')).toBeUndefined();
    expect(spm.isSpecial(0)).toBe(true);
    expect(spm.isSpecial(idOf(spec, '<tool>'))).toBe(false);
  });

  it('rejects inconsistent specs', () => {
    expect(() => new Tokenizer(null as never)).toThrow(TypeError);
    expect(() => new Tokenizer(smallSpmSpec({ model: 'bert' as never }))).toThrow(/not supported/);
    expect(
      () =>
        new Tokenizer(
          smallSpmSpec({ tokens: [], bosId: undefined, eosId: undefined, unkId: undefined, addBos: false }),
        ),
    ).toThrow(/no tokens/);
    expect(
      () => new Tokenizer(smallSpmSpec({ tokens: ['a', 'a', 'b'], bosId: 0, eosId: 1, unkId: 0 })),
    ).toThrow(/duplicate token "a" at ids 0 and 1/);
    expect(() => new Tokenizer(smallSpmSpec({ bosId: 100_000 }))).toThrow(RangeError);
    expect(() => new Tokenizer(smallSpmSpec({ bosId: undefined }))).toThrow(
      /addBos is true but spec.bosId is not set/,
    );
    expect(() => new Tokenizer(smallBpeSpec(undefined, { pre: 'qwen2' }))).toThrow(
      /pre-tokenizer "qwen2" is not supported/,
    );
    expect(() => new Tokenizer(smallBpeSpec(undefined, { merges: undefined }))).toThrow(/spec.merges/);
    try {
      new Tokenizer(smallSpmSpec({ tokens: ['a', 'b', 'a'], bosId: 0, eosId: 1, unkId: 0 }));
      expect.unreachable();
    } catch (error) {
      expect(TernionError.isInstance(error) && error.code).toBe('TOKENIZER_INVALID');
    }
  });
});

describe('Tokenizer argument checks', () => {
  it('encode', () => {
    expect(() => spm.encode(42 as never)).toThrow(/text must be a string/);
    expect(() => spm.encode('a', { addBos: 'yes' as never })).toThrow(/options.addBos must be a boolean/);
    expect(() => spm.encode('a', { parseSpecial: 1 as never })).toThrow(TypeError);
    const noBos = new Tokenizer(smallSpmSpec({ bosId: undefined, addBos: false }));
    expect(() => noBos.encode('a', { addBos: true })).toThrow(/no BOS token/);
  });

  it('decode and pieces', () => {
    expect(() => spm.decode(undefined as never)).toThrow(TypeError);
    expect(() => spm.decode([1, -1])).toThrow(/ids\[1\] must be a token id in \[0, \d+\), got -1/);
    expect(() => spm.decode([1.5])).toThrow(RangeError);
    expect(() => spm.decode([spm.vocabSize])).toThrow(RangeError);
    expect(() => spm.decode(['1'] as never)).toThrow(RangeError);
    expect(() => spm.decode([1], { special: 'no' as never })).toThrow(TypeError);
    expect(() => spm.tokenToPiece(spm.vocabSize)).toThrow(RangeError);
    expect(() => spm.tokenText(-1)).toThrow(RangeError);
    expect(() => spm.tokenId(3 as never)).toThrow(TypeError);
    expect(spm.decode(new Int32Array(0))).toBe('');
    expect(spm.decode(Int32Array.of(1), { special: true })).toBe('<s>');
  });

  it('drops BOS and a trailing EOS with removeSpecial when the model adds them', () => {
    const withEos = new Tokenizer(smallSpmSpec({ addEos: true }));
    const ids = withEos.encode('ab');
    expect(Array.from(ids)).toEqual([1, withEos.tokenId('▁ab'), 2]);
    expect(withEos.decode(ids, { special: true })).toBe('<s> ab</s>');
    expect(withEos.decode(ids, { special: true, removeSpecial: true })).toBe(' ab');
  });
});
