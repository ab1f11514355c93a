import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { preTokenizeLlama3 } from './pre-tokenize-llama3.js';

// The tokenizer.json regex. The scanner must agree with it wherever JS `\s` and llama.cpp's whitespace
// table agree (everything except U+0085 and U+FEFF).
const LLAMA3_REGEX =
  /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

describe('preTokenizeLlama3', () => {
  it('splits words, contractions, digit triples, punctuation and whitespace', () => {
    expect(preTokenizeLlama3("Hello world, it's 12345 ok!!\n\n  x  ")).toEqual([
      'Hello',
      ' world',
      ',',
      ' it',
      "'s",
      ' ',
      '123',
      '45',
      ' ok',
      '!!\n\n',
      ' ',
      ' x',
      '  ',
    ]);
    expect(preTokenizeLlama3("WE'LL I'M")).toEqual(['WE', "'LL", ' I', "'M"]);
    expect(preTokenizeLlama3('a\r\n\r\nb')).toEqual(['a', '\r\n\r\n', 'b']);
    expect(preTokenizeLlama3('')).toEqual([]);
  });

  it("treats U+0085 as whitespace and U+FEFF as not, like llama.cpp's table", () => {
    expect(preTokenizeLlama3('a\u0085\u0085b')).toEqual(['a', '\u0085', '\u0085b']);
    expect(preTokenizeLlama3('a\ufeffb')).toEqual(['a', '\ufeffb']);
  });

  it('agrees with the tokenizer.json regex on random text', () => {
    const pieces = fc.constantFrom(
      'a',
      'Z',
      'é',
      'ж',
      '日',
      '1',
      '٣',
      ' ',
      '  ',
      '\n',
      '\r',
      '\t',
      "'",
      "'s",
      "'LL",
      '.',
      '!',
      '😀',
      '\u00a0',
      '\u3000',
      'x1',
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 25 }), (parts) => {
        const text = parts.join('');
        expect(preTokenizeLlama3(text)).toEqual(text.match(LLAMA3_REGEX) ?? []);
      }),
      { numRuns: 500 },
    );
  });
});
