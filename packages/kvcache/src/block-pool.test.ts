import { TernionError } from '@ternion/contracts';
import { describe, expect, it } from 'vitest';
import { BlockPool } from './block-pool.js';

const freeList = (pool: BlockPool): number[] => {
  const out: number[] = [];
  pool.forEachFree((b) => out.push(b));
  return out;
};

/** Caches `block` as a first block whose tokens are `fill` repeated. */
function cacheFirstBlock(pool: BlockPool, block: number, hi: number, fill: number): void {
  const tokens = new Array<number>(pool.blockSize).fill(fill);
  expect(pool.prefixCache.insert(block, hi, 0, -1, 0, tokens, 0)).toBe(true);
}

describe('BlockPool', () => {
  it('allocates in id order with ref count 1 and frees to the tail', () => {
    const pool = new BlockPool({ numBlocks: 4, blockSize: 2 });
    expect([pool.allocate(), pool.allocate(), pool.allocate()]).toEqual([0, 1, 2]);
    expect(pool.refCount(1)).toBe(1);
    expect(pool.numFreeBlocks).toBe(1);
    expect(pool.numUsedBlocks).toBe(3);
    pool.free(0);
    expect(freeList(pool)).toEqual([3, 0]);
    expect(pool.isFree(0)).toBe(true);
    expect(pool.allocate()).toBe(3);
    expect(pool.allocate()).toBe(0);
  });

  it('frees a shared block only when its last reference goes', () => {
    const pool = new BlockPool({ numBlocks: 2, blockSize: 2 });
    const b = pool.allocate();
    pool.touch(b);
    expect(pool.refCount(b)).toBe(2);
    pool.free(b);
    expect(pool.isFree(b)).toBe(false);
    pool.free(b);
    expect(pool.isFree(b)).toBe(true);
    expect(pool.refCount(b)).toBe(0);
  });

  it('keeps freed cached blocks findable and evicts the least recently freed first', () => {
    const pool = new BlockPool({ numBlocks: 3, blockSize: 2 });
    const [a, b, c] = [pool.allocate(), pool.allocate(), pool.allocate()];
    cacheFirstBlock(pool, a, 100, 7);
    cacheFirstBlock(pool, b, 200, 8);
    pool.free(b);
    pool.free(a);
    pool.free(c);
    expect(freeList(pool)).toEqual([b, a, c]);
    expect(pool.numCachedBlocks).toBe(2);
    expect(pool.prefixCache.find(100, 0, -1, 0, [7, 7], 0)).toBe(a);
    // A hit takes the block off the free queue.
    pool.touch(a);
    expect(pool.refCount(a)).toBe(1);
    expect(freeList(pool)).toEqual([b, c]);
    // Allocation evicts b, the LRU cached block: its hash stops resolving and its epoch moves on.
    const epochBefore = pool.prefixCache.epoch(b);
    expect(pool.allocate()).toBe(b);
    expect(pool.prefixCache.find(200, 0, -1, 0, [8, 8], 0)).toBe(-1);
    expect(pool.prefixCache.epoch(b)).toBe(epochBefore + 1);
    expect(pool.numCachedBlocks).toBe(1);
    expect(pool.prefixCache.isCached(a)).toBe(true);
  });

  it('throws KV_CACHE_FULL when empty and RangeErrors on misuse', () => {
    const pool = new BlockPool({ numBlocks: 1, blockSize: 4 });
    const b = pool.allocate();
    let caught: unknown;
    try {
      pool.allocate();
    } catch (e) {
      caught = e;
    }
    expect(TernionError.isInstance(caught) && caught.code === 'KV_CACHE_FULL').toBe(true);
    pool.free(b);
    expect(() => pool.free(b)).toThrow(/double free/);
    expect(() => pool.touch(b)).toThrow(/neither in use nor cached/);
    expect(() => pool.free(1)).toThrow(RangeError);
    expect(() => pool.refCount(-1)).toThrow(RangeError);
    expect(() => new BlockPool({ numBlocks: 0, blockSize: 4 })).toThrow(/numBlocks/);
    expect(() => new BlockPool({ numBlocks: 4, blockSize: 0 })).toThrow(/blockSize/);
    expect(() => new BlockPool({ numBlocks: 2 ** 20, blockSize: 4096 })).toThrow(/int32/);
  });
});

describe('PrefixCacheIndex', () => {
  it('rejects out-of-range blocks and hashes', () => {
    const pool = new BlockPool({ numBlocks: 2, blockSize: 2 });
    const index = pool.prefixCache;
    expect(() => index.insert(2, 1, 1, -1, 0, [1, 2], 0)).toThrow(/block must be in 0..1/);
    expect(() => index.insert(0, -1, 1, -1, 0, [1, 2], 0)).toThrow(/hi must be in/);
    expect(() => index.insert(0, 1, 2 ** 32, -1, 0, [1, 2], 0)).toThrow(/lo must be in/);
    expect(() => index.insert(0, 1, 1, 5, 0, [1, 2], 0)).toThrow(/parentBlock/);
    expect(() => index.remove(-1)).toThrow(RangeError);
    expect(() => index.isCached(0.5)).toThrow(TypeError);
    expect(index.isIdentity(-1, 0)).toBe(false);
    expect(index.insert(0, 1, 1, -1, 0, [1, 2], 0)).toBe(true);
    expect(index.insert(1, 1, 1, -1, 0, [1, 2], 0)).toBe(false); // hash taken
    expect(index.insert(0, 2, 2, -1, 0, [1, 2], 0)).toBe(false); // already cached
    expect([...index.tokensOf(0)]).toEqual([1, 2]);
    expect(index.parentOf(0)).toEqual({ block: -1, epoch: 0 });
  });
});
