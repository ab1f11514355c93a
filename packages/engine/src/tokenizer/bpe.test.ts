import { describe, expect, it } from 'vitest';
import { BYTE_TO_CHAR } from './byte-unicode.js';
import { idOf, smallBpeSpec } from './test-vocabs.fixture.js';
import { Tokenizer } from './tokenizer.js';

const spec = smallBpeSpec();
const tok = new Tokenizer(spec);
const id = (text: string) => idOf(spec, text);

describe('byte-level BPE (llama.cpp llm_tokenizer_bpe, llama-3 pre-tokenizer)', () => {
  it('maps bytes through the GPT-2 alphabet', () => {
    expect(BYTE_TO_CHAR[0x20]).toBe('Ġ');
    expect(BYTE_TO_CHAR[0x0a]).toBe('Ċ');
    expect(BYTE_TO_CHAR[0x41]).toBe('A');
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
  });

  it('merges by rank inside each pre-tokenized word', () => {
    expect(Array.from(tok.encode('hellohello world', { addBos: false }))).toEqual([
      id('hello'),
      id('hello'),
      id('Ġworld'),
    ]);
  });

  it('applies the lowest rank first', () => {
    const abFirst = smallBpeSpec(['a b', 'b c']);
    const bcFirst = smallBpeSpec(['b c', 'a b']);
    expect(Array.from(new Tokenizer(abFirst).encode('abc', { addBos: false }))).toEqual([
      idOf(abFirst, 'ab'),
      idOf(abFirst, 'c'),
    ]);
    expect(Array.from(new Tokenizer(bcFirst).encode('abc', { addBos: false }))).toEqual([
      idOf(bcFirst, 'a'),
      idOf(bcFirst, 'bc'),
    ]);
  });

  it('takes a whole word that is a token without merging (ignore_merges)', () => {
    // "ac" has no merge path but is a token: llama-3 emits it whole.
    const s = smallBpeSpec(['a b']);
    s.tokens.push('ac');
    s.tokenTypes = [...(s.tokenTypes as number[]), 1];
    expect(Array.from(new Tokenizer(s).encode('ac', { addBos: false }))).toEqual([s.tokens.length - 1]);
  });

  it('encodes multi-byte characters as byte tokens when nothing merges', () => {
    expect(Array.from(tok.encode('é', { addBos: false }))).toEqual([
      id(BYTE_TO_CHAR[0xc3] as string),
      id(BYTE_TO_CHAR[0xa9] as string),
    ]);
  });

  it('adds BOS by default and parses control tokens only when asked', () => {
    const bos = tok.bosId as number;
    expect(Array.from(tok.encode('hello'))).toEqual([bos, id('hello')]);
    const plain = Array.from(tok.encode('<|eot_id|>', { addBos: false }));
    expect(plain).not.toContain(id('<|eot_id|>'));
    expect(Array.from(tok.encode('hello<|eot_id|> world', { addBos: false, parseSpecial: true }))).toEqual([
      id('hello'),
      id('<|eot_id|>'),
      id('Ġworld'),
    ]);
  });

  it('decodes with llama.cpp clean_spaces', () => {
    expect(tok.decode([id('hello'), id('Ġworld')])).toBe('hello world');
    const spaceDot = [id('a'), id('Ġ'), id('.'), id('Ġ'), id("'"), id('s')];
    expect(tok.decode(spaceDot)).toBe("a.'s");
    expect(tok.decode([id('hello'), id('<|eot_id|>')], { special: true })).toBe('hello<|eot_id|>');
  });

  it('counts <|eot_id|> and EOS as end of generation', () => {
    expect(tok.isEog(id('<|eot_id|>'))).toBe(true);
    expect(tok.isEog(tok.eosId as number)).toBe(true);
    expect(tok.isEog(tok.bosId as number)).toBe(false);
    expect(tok.eotId).toBe(id('<|eot_id|>'));
  });
});
