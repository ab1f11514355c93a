/**
 * A binary max-heap ordered by `before(a, b)` (true when `a` must come out first). The BPE/SPM merge loops
 * need a priority queue with a custom tie-break, which `Array.sort` per step would make quadratic.
 * Sifting moves a hole instead of swapping pairs (array-destructuring swaps are several times slower).
 */
export class BinaryHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as T;
      if (!this.before(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const n = items.length - 1;
    if (n < 0) return undefined;
    const top = items[0] as T;
    const last = items.pop() as T;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && this.before(items[r] as T, items[l] as T) ? r : l;
      const c = items[child] as T;
      if (!this.before(c, last)) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
