import { describe, expect, it } from 'vitest';
import { StopMatcher } from './stop-matcher.js';

describe('StopMatcher', () => {
  it('passes text through when there are no stop strings', () => {
    const m = new StopMatcher([]);
    expect(m.push('abc')).toEqual({ text: 'abc', stopped: false });
  });

  it('holds back a possible stop prefix and cuts at the stop string across chunks', () => {
    const m = new StopMatcher(['\n\nUser:']);
    expect(m.push('Hello')).toEqual({ text: 'Hello', stopped: false });
    expect(m.push(' world\n')).toEqual({ text: ' world', stopped: false });
    expect(m.push('\nUs')).toEqual({ text: '', stopped: false });
    expect(m.push('er: hi')).toEqual({ text: '', stopped: true });
  });

  it('releases held text when it stops matching, and on flush', () => {
    const m = new StopMatcher(['END']);
    expect(m.push('the E')).toEqual({ text: 'the ', stopped: false });
    expect(m.push('x')).toEqual({ text: 'Ex', stopped: false });
    expect(m.push('EN')).toEqual({ text: '', stopped: false });
    expect(m.flush()).toBe('EN');
  });

  it('with matchStops false (before minTokens) lets a whole stop string through but holds a possible start', () => {
    const m = new StopMatcher(['END']);
    expect(m.push('an END', false)).toEqual({ text: 'an END', stopped: false });
    expect(m.push(' E', false)).toEqual({ text: ' ', stopped: false });
    // the stop string begun before minTokens and completed after it is found
    expect(m.push('ND!')).toEqual({ text: '', stopped: true });
    const f = new StopMatcher(['END']);
    f.push('x E', false);
    expect(f.flush('ND', false)).toBe('END');
  });

  it('picks the earliest of several stop strings', () => {
    const m = new StopMatcher(['bb', 'a']);
    expect(m.push('xxabb')).toEqual({ text: 'xx', stopped: true });
  });

  it('rejects empty stop strings', () => {
    expect(() => new StopMatcher([''])).toThrow(RangeError);
  });
});
