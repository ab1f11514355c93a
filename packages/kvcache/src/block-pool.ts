import { asBlockId, type BlockId, TernionError } from '@ternion/contracts';
import { FreeBlockQueue } from './free-block-queue.js';
import { PrefixCacheIndex } from './prefix-cache-index.js';

export interface BlockPoolOptions {
  /** Blocks in the pool (the arena's first dimension). */
  numBlocks: number;
  /** Tokens per block. */
  blockSize: number;
}

/**
 * Owns every KV block: reference counts, the free queue and the prefix-cache index (vLLM v1 `BlockPool`,
 * vllm/v1/core/block_pool.py).
 *
 * A block is in use while its reference count is > 0 (one reference per block-table entry pointing at it).
 * At 0 it goes to the free queue's tail; if it has a cached identity it stays findable in the prefix cache
 * until it is evicted. Allocation takes the queue's head, the least recently freed block, evicting its
 * cached identity: LRU eviction of cached blocks for free, with O(1) operations and no allocation.
 */
export class BlockPool {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly prefixCache: PrefixCacheIndex;
  private readonly freeQueue: FreeBlockQueue;
  /** (numBlocks) block-table entries pointing at each block. */
  private readonly refCounts: Int32Array;

  constructor(options: BlockPoolOptions) {
    const { numBlocks, blockSize } = options;
    if (!Number.isInteger(numBlocks) || numBlocks < 1 || numBlocks > 0x3fffffff) {
      throw new RangeError(`numBlocks must be an integer in 1..2^30-1, got ${String(numBlocks)}`);
    }
    if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 0x10000) {
      throw new RangeError(`blockSize must be an integer in 1..65536, got ${String(blockSize)}`);
    }
    if (numBlocks * blockSize > 0x7fffffff) {
      throw new RangeError(
        `numBlocks * blockSize must fit an int32 slot index, got ${numBlocks} * ${blockSize}`,
      );
    }
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.freeQueue = new FreeBlockQueue(numBlocks);
    this.refCounts = new Int32Array(numBlocks);
    this.prefixCache = new PrefixCacheIndex(numBlocks, blockSize);
  }

  /** Blocks `allocate()` can hand out now, cached-but-unused ones included. */
  get numFreeBlocks(): number {
    return this.freeQueue.length;
  }

  get numUsedBlocks(): number {
    return this.numBlocks - this.freeQueue.length;
  }

  /** Blocks with a cached identity, in use or free. */
  get numCachedBlocks(): number {
    return this.prefixCache.size;
  }

  refCount(block: number): number {
    this.checkBlock(block, 'block');
    return this.refCounts[block]!;
  }

  isFree(block: number): boolean {
    return this.freeQueue.has(block);
  }

  /** Takes the least recently freed block (evicting its cached identity) with reference count 1. */
  allocate(): BlockId {
    const block = this.freeQueue.popHead();
    if (block === -1) {
      throw new TernionError('KV_CACHE_FULL', `all ${this.numBlocks} KV blocks are in use`, {
        hint: 'check numFreeBlocks before allocating, or preempt a sequence',
      });
    }
    this.prefixCache.remove(block);
    this.refCounts[block] = 1;
    return asBlockId(block);
  }

  /** Drops one reference; at 0 the block joins the free queue's tail (still findable if cached). */
  free(block: number): void {
    this.checkBlock(block, 'block');
    const ref = this.refCounts[block]!;
    if (ref <= 0) throw new RangeError(`BlockPool.free: block ${block} is not in use (double free)`);
    this.refCounts[block] = ref - 1;
    if (ref === 1) this.freeQueue.append(block);
  }

  /** Adds a reference to a block found in the prefix cache, taking it off the free queue if it was there. */
  touch(block: number): void {
    this.checkBlock(block, 'block');
    const ref = this.refCounts[block]!;
    if (ref === 0) {
      if (!this.prefixCache.isCached(block)) {
        throw new RangeError(`BlockPool.touch: block ${block} is neither in use nor cached`);
      }
      this.freeQueue.remove(block);
    }
    this.refCounts[block] = ref + 1;
  }

  /** Calls `fn` on the free blocks in allocation order (for tests and debugging). */
  forEachFree(fn: (block: number) => void): void {
    this.freeQueue.forEach(fn);
  }

  private checkBlock(block: number, name: string): void {
    if (!Number.isInteger(block) || block < 0 || block >= this.numBlocks) {
      throw new RangeError(`${name} must be an integer in 0..${this.numBlocks - 1}, got ${String(block)}`);
    }
  }
}
