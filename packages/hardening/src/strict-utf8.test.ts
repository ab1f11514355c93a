import { describe, expect, it } from 'vitest';
import { HttpError } from './http-error.js';
import { decodeUtf8Strict, INVALID_UTF8_CODE } from './strict-utf8.js';

describe('decodeUtf8Strict', () => {
  it('decodes valid multi-byte UTF-8 unchanged', () => {
    expect(decodeUtf8Strict(Buffer.from('héllo ✓ 🦙', 'utf8'))).toBe('héllo ✓ 🦙');
  });

  it.each([
    ['a lone continuation byte', [0x61, 0x80]],
    ['a truncated 2-byte sequence', [0x61, 0xc3, 0x28]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a truncated 4-byte sequence at the end', [0xf0, 0x9f, 0xa6]],
  ])('rejects %s with a 400 invalid_utf8', (_what, bytes) => {
    let caught: unknown;
    try {
      decodeUtf8Strict(new Uint8Array(bytes));
    } catch (e) {
      caught = e;
    }
    expect(HttpError.isInstance(caught)).toBe(true);
    expect((caught as HttpError).status).toBe(400);
    expect((caught as HttpError).code).toBe(INVALID_UTF8_CODE);
  });

  it('rejects a non-byte argument with a TypeError', () => {
    expect(() => decodeUtf8Strict('text' as unknown as Uint8Array)).toThrow(TypeError);
  });
});
