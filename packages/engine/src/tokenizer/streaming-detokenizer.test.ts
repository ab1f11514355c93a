import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamingDetokenizer } from './streaming-detokenizer.js';
import { smallSpmSpec } from './test-vocabs.fixture.js';
import { Tokenizer } from './tokenizer.js';

const tok = new Tokenizer(smallSpmSpec());
const byte = (b: number) => 3 + b;

describe('StreamingDetokenizer', () => {
  it('holds back an emoji until its last byte token arrives', () => {
    const stream = new StreamingDetokenizer(tok);
    const ids = tok.encode('a😀b', { addBos: false }); // ▁a <0xF0> <0x9F> <0x98> <0x80> b
    const chunks = Array.from(ids, (id) => stream.push(id));
    expect(chunks).toEqual([' a', '', '', '', '😀', 'b']);
    expect(stream.flush()).toBe('');
  });

  it('flushes an unfinished character as U+FFFD', () => {
    const stream = new StreamingDetokenizer(tok);
    expect(stream.push(byte(0xf0))).toBe('');
    expect(stream.push(byte(0x9f))).toBe('');
    expect(stream.flush()).toBe('\uFFFD');
    expect(stream.push(tok.encode('ab', { addBos: false })[0] as number)).toBe(' ab');
  });

  it('replaces invalid bytes as soon as they are known to be invalid', () => {
    const stream = new StreamingDetokenizer(tok);
    expect(stream.push(byte(0xe2))).toBe('');
    expect(stream.push(byte(0x41))).toBe('\uFFFDA');
  });

  it('keeps a leading U+FEFF (it is text, not a byte-order mark)', () => {
    const stream = new StreamingDetokenizer(tok);
    expect(stream.pushAll([byte(0xef), byte(0xbb), byte(0xbf)])).toBe('\ufeff');
  });

  it('hides control tokens unless special', () => {
    expect(new StreamingDetokenizer(tok).pushAll([1, 2])).toBe('');
    expect(new StreamingDetokenizer(tok, { special: true }).pushAll([1, 2])).toBe('<s></s>');
  });

  it('never splits a character and adds up to the one-shot decode of the pieces', () => {
    const ids = fc.array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { maxLength: 40 });
    fc.assert(
      fc.property(ids, (sequence) => {
        const stream = new StreamingDetokenizer(tok);
        let text = '';
        for (const id of sequence) {
          const chunk = stream.push(id);
          // A chunk never ends in the first half of a surrogate pair, nor starts with the second half.
          expect(/[\uD800-\uDBFF]$/.test(chunk)).toBe(false);
          expect(/^[\uDC00-\uDFFF]/.test(chunk)).toBe(false);
          text += chunk;
        }
        text += stream.flush();
        const pieces = sequence.flatMap((id) => Array.from(tok.tokenToPiece(id)));
        expect(text).toBe(new TextDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from(pieces)));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects bad arguments', () => {
    expect(() => new StreamingDetokenizer(tok, { special: 1 as never })).toThrow(TypeError);
    expect(() => new StreamingDetokenizer(tok).push(-1)).toThrow(RangeError);
    expect(() => new StreamingDetokenizer(tok).push(tok.vocabSize)).toThrow(/id must be a token id/);
  });
});
