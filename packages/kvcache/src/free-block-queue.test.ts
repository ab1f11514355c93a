import { describe, expect, it } from 'vitest';
import { FreeBlockQueue } from './free-block-queue.js';

const contents = (q: FreeBlockQueue): number[] => {
  const out: number[] = [];
  q.forEach((b) => {
    out.push(b);
  });
  return out;
};

describe('FreeBlockQueue', () => {
  it('starts with every block in id order and pops from the head', () => {
    const q = new FreeBlockQueue(4);
    expect(q.length).toBe(4);
    expect(contents(q)).toEqual([0, 1, 2, 3]);
    expect(q.popHead()).toBe(0);
    expect(q.popHead()).toBe(1);
    expect(q.length).toBe(2);
    expect(q.has(0)).toBe(false);
    expect(q.has(2)).toBe(true);
  });

  it('appends at the tail and removes from the middle in O(1)', () => {
    const q = new FreeBlockQueue(5);
    for (let i = 0; i < 5; i++) q.popHead();
    expect(q.length).toBe(0);
    expect(q.popHead()).toBe(-1);
    expect(q.peekHead()).toBe(-1);
    q.append(3);
    q.append(1);
    q.append(4);
    expect(contents(q)).toEqual([3, 1, 4]);
    q.remove(1);
    expect(contents(q)).toEqual([3, 4]);
    q.remove(3);
    q.append(3);
    expect(contents(q)).toEqual([4, 3]);
    expect(q.peekHead()).toBe(4);
    q.remove(3);
    q.remove(4);
    expect(q.length).toBe(0);
    q.append(2);
    expect(contents(q)).toEqual([2]);
  });

  it('rejects double appends, removing absent blocks and bad ids', () => {
    const q = new FreeBlockQueue(3);
    expect(() => q.append(1)).toThrow(RangeError);
    q.remove(1);
    expect(() => q.remove(1)).toThrow(/not queued/);
    expect(() => q.append(3)).toThrow(RangeError);
    expect(() => q.append(-1)).toThrow(RangeError);
    expect(() => q.has(1.5)).toThrow(/integer/);
    expect(() => new FreeBlockQueue(0)).toThrow(RangeError);
    expect(() => new FreeBlockQueue(2.5)).toThrow(RangeError);
  });
});
