import { describe, expect, it } from 'vitest';
import { parseJsonBody } from './json-body-parser.js';

const codeOf = (body: Buffer) => {
  try {
    parseJsonBody(body);
  } catch (e) {
    return (e as { status: number; code: string }).code;
  }
  return 'ok';
};

describe('parseJsonBody', () => {
  it('parses UTF-8 JSON, multi-byte characters included', () => {
    expect(parseJsonBody(Buffer.from('{"a":"é😀"}'))).toEqual({ a: 'é😀' });
  });

  it('rejects invalid UTF-8, empty bodies, bad JSON and __proto__ keys with 400s', () => {
    expect(codeOf(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]))).toBe('invalid_utf8');
    expect(codeOf(Buffer.from('  '))).toBe('invalid_json');
    expect(codeOf(Buffer.from('{"a":'))).toBe('invalid_json');
    expect(codeOf(Buffer.from('{"a":{"__proto__":{"polluted":true}}}'))).toBe('invalid_json');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
