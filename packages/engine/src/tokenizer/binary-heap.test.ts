import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryHeap } from './binary-heap.js';

interface Pair {
  score: number;
  left: number;
}
const before = (a: Pair, b: Pair) => a.score > b.score || (a.score === b.score && a.left < b.left);

describe('BinaryHeap', () => {
  it('pops in comparator order, ties broken by the comparator too', () => {
    const pair = fc.record({ score: fc.integer({ min: -5, max: 5 }), left: fc.nat(50) });
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 60 }), (items) => {
        const heap = new BinaryHeap(before);
        for (const item of items) heap.push(item);
        expect(heap.size).toBe(items.length);
        const out: Pair[] = [];
        for (let item = heap.pop(); item !== undefined; item = heap.pop()) out.push(item);
        const sorted = [...items].sort((a, b) => b.score - a.score || a.left - b.left);
        expect(out.map((x) => [x.score, x.left])).toEqual(sorted.map((x) => [x.score, x.left]));
        expect(heap.pop()).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});
