import { describe, expect, it } from 'vitest';
import { TernionError } from './errors.js';

describe('TernionError', () => {
  it('carries a code, a hint and a cause', () => {
    const cause = new Error('root');
    const e = new TernionError('GGUF_INVALID', 'bad magic', { hint: 'is this a GGUF file?', cause });
    expect(e.code).toBe('GGUF_INVALID');
    expect(e.hint).toBe('is this a GGUF file?');
    expect(e.cause).toBe(cause);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('TernionError');
  });

  it('is recognised across package copies by its Symbol.for marker', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('ternion.error')]: true, code: 'X' });
    expect(TernionError.isInstance(foreign)).toBe(true);
    expect(TernionError.isInstance(new Error('plain'))).toBe(false);
    expect(TernionError.isInstance(null)).toBe(false);
    expect(TernionError.isInstance('TernionError')).toBe(false);
  });

  it('subclasses stay recognisable', () => {
    class GgufError extends TernionError {}
    expect(TernionError.isInstance(new GgufError('GGUF_INVALID', 'x'))).toBe(true);
  });
});
