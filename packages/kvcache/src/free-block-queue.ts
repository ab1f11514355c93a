/**
 * The free blocks in eviction order, as an intrusive doubly-linked list over two Int32Arrays: O(1) pop from
 * the head, append at the tail and removal from the middle, with no allocation per operation. This is vLLM
 * v1's `FreeKVCacheBlockQueue` (vllm/v1/core/kv_cache_utils.py) with index links instead of objects.
 *
 * Index `numBlocks` is a sentinel that is both head and tail, so no operation has an empty-list branch.
 * A block that is not in the queue has `prev === NOT_QUEUED`.
 */
export class FreeBlockQueue {
  readonly numBlocks: number;
  /** (numBlocks + 1) previous block in the queue; the sentinel's is the tail. */
  private readonly prev: Int32Array;
  /** (numBlocks + 1) next block in the queue; the sentinel's is the head. */
  private readonly next: Int32Array;
  private count = 0;

  /** Starts with every block queued in id order, so a fresh pool hands out 0, 1, 2, ... */
  constructor(numBlocks: number) {
    if (!Number.isInteger(numBlocks) || numBlocks < 1 || numBlocks > 0x3fffffff) {
      throw new RangeError(`numBlocks must be an integer in 1..2^30-1, got ${String(numBlocks)}`);
    }
    this.numBlocks = numBlocks;
    this.prev = new Int32Array(numBlocks + 1);
    this.next = new Int32Array(numBlocks + 1);
    const sentinel = numBlocks;
    for (let b = 0; b <= numBlocks; b++) {
      this.prev[b] = b === 0 ? sentinel : b - 1;
      this.next[b] = b === sentinel ? 0 : b + 1;
    }
    this.count = numBlocks;
  }

  get length(): number {
    return this.count;
  }

  has(block: number): boolean {
    this.checkBlock(block);
    return this.prev[block] !== NOT_QUEUED;
  }

  /** The block allocated next (the least recently freed), or -1 when empty. */
  peekHead(): number {
    const head = this.next[this.numBlocks]!;
    return head === this.numBlocks ? -1 : head;
  }

  /** Removes and returns the head, or -1 when empty. */
  popHead(): number {
    const head = this.peekHead();
    if (head !== -1) this.unlink(head);
    return head;
  }

  /** Queues `block` at the tail: it will be the last to be allocated (and evicted). */
  append(block: number): void {
    if (this.has(block)) throw new RangeError(`FreeBlockQueue.append: block ${block} is already queued`);
    const sentinel = this.numBlocks;
    const tail = this.prev[sentinel]!;
    this.prev[block] = tail;
    this.next[block] = sentinel;
    this.next[tail] = block;
    this.prev[sentinel] = block;
    this.count++;
  }

  remove(block: number): void {
    if (!this.has(block)) throw new RangeError(`FreeBlockQueue.remove: block ${block} is not queued`);
    this.unlink(block);
  }

  /** Calls `fn` on the queued blocks from head to tail (for tests and debugging). */
  forEach(fn: (block: number) => void): void {
    for (let b = this.next[this.numBlocks]!; b !== this.numBlocks; b = this.next[b]!) fn(b);
  }

  private checkBlock(block: number): void {
    if (!Number.isInteger(block) || block < 0 || block >= this.numBlocks) {
      throw new RangeError(`block must be an integer in 0..${this.numBlocks - 1}, got ${String(block)}`);
    }
  }

  private unlink(block: number): void {
    const p = this.prev[block]!;
    const n = this.next[block]!;
    this.next[p] = n;
    this.prev[n] = p;
    this.prev[block] = NOT_QUEUED;
    this.next[block] = NOT_QUEUED;
    this.count--;
  }
}

const NOT_QUEUED = -1;
