import { asSeqId, type BlockId, TernionError } from '@ternion/contracts';
import { describe, expect, it } from 'vitest';
import type { BlockHasher } from './block-hash.js';
import { KvCacheManager } from './kv-cache-manager.js';

const A = asSeqId(1);
const B = asSeqId(2);
const C = asSeqId(3);

const slots = (kv: KvCacheManager, seq: number, from: number, count: number): number[] => {
  const out = new Int32Array(count);
  kv.slotsFor(asSeqId(seq), from, count, out);
  return [...out];
};

const freeList = (kv: KvCacheManager): number[] => {
  const out: number[] = [];
  kv.pool.forEachFree((b) => out.push(b));
  return out;
};

function expectTernionError(fn: () => unknown, code: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(TernionError.isInstance(caught)).toBe(true);
  expect((caught as TernionError).code).toBe(code);
  expect((caught as TernionError).message).toMatch(message);
}

describe('KvCacheManager: block tables and slots', () => {
  it('maps positions to slots through the block table', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    expect(kv.allocateSlots(A, 6)).toBe(true); // creates A
    expect(kv.numTokens(A)).toBe(6);
    expect(kv.blockTable(A)).toEqual([0, 1]);
    expect(kv.allocateSlots(B, 3)).toBe(true);
    expect(kv.blockTable(B)).toEqual([2]);
    // Growing inside the last block needs no new block.
    expect(kv.blocksNeeded(A, 8)).toBe(0);
    expect(kv.allocateSlots(A, 8)).toBe(true);
    expect(kv.blocksNeeded(A, 9)).toBe(1);
    expect(kv.allocateSlots(A, 9)).toBe(true);
    expect(kv.blockTable(A)).toEqual([0, 1, 3]);
    expect(slots(kv, A, 2, 7)).toEqual([2, 3, 4, 5, 6, 7, 12]);
    expect(slots(kv, B, 0, 3)).toEqual([8, 9, 10]);
    const out = new Int32Array(6).fill(-1);
    kv.slotsFor(A, 7, 2, out, 3);
    expect([...out]).toEqual([-1, -1, -1, 7, 12, -1]);
    const table = new Int32Array(8).fill(-1);
    expect(kv.fillBlockTable(A, table, 4)).toBe(3);
    expect(kv.fillBlockTable(B, table)).toBe(1);
    expect([...table]).toEqual([2, -1, -1, -1, 0, 1, 3, -1]);
    expect(kv.numUsedBlocks).toBe(4);
    expect(kv.usage()).toBe(0.5);
    // Asking for fewer tokens than held changes nothing.
    expect(kv.allocateSlots(A, 1)).toBe(true);
    expect(kv.numTokens(A)).toBe(9);
  });

  it('allocateSlots is all-or-nothing', () => {
    const kv = new KvCacheManager({ numBlocks: 3, blockSize: 2 });
    expect(kv.allocateSlots(A, 3)).toBe(true);
    expect(kv.blocksNeeded(B, 0)).toBe(0);
    kv.addSequence(B);
    expect(kv.blocksNeeded(B, 4)).toBe(2);
    expect(kv.allocateSlots(B, 4)).toBe(false);
    expect(kv.numTokens(B)).toBe(0);
    expect(kv.blockTable(B)).toEqual([]);
    expect(kv.numFreeBlocks).toBe(1);
    expect(kv.allocateSlots(B, 2)).toBe(true);
    expect(kv.numFreeBlocks).toBe(0);
    expect(kv.allocateSlots(A, 4)).toBe(true); // fits in A's last block
    expect(kv.allocateSlots(A, 5)).toBe(false);
    expect(kv.numTokens(A)).toBe(4);
    // A sequence created by a failing call is not left behind.
    expect(kv.allocateSlots(C, 1)).toBe(false);
    expect(kv.has(C)).toBe(false);
  });

  it('truncate frees the blocks past the end, tail first; free is idempotent', () => {
    const kv = new KvCacheManager({ numBlocks: 6, blockSize: 2 });
    kv.allocateSlots(A, 9); // blocks 0..4
    kv.truncate(A, 3);
    expect(kv.blockTable(A)).toEqual([0, 1]);
    expect(kv.numTokens(A)).toBe(3);
    expect(freeList(kv)).toEqual([5, 4, 3, 2]);
    kv.truncate(A, 3);
    expect(kv.blockTable(A)).toEqual([0, 1]);
    kv.free(A);
    expect(freeList(kv)).toEqual([5, 4, 3, 2, 1, 0]);
    expect(kv.has(A)).toBe(false);
    kv.free(A);
    expect(kv.numFreeBlocks).toBe(6);
    // A freed id can be used again.
    expect(kv.allocateSlots(A, 1)).toBe(true);
    expect(kv.blockTable(A)).toEqual([5]);
  });
});

describe('KvCacheManager: fork and copy-on-write', () => {
  it('shares every block, and copies the shared partial tail before the first append', () => {
    const kv = new KvCacheManager({ numBlocks: 6, blockSize: 4 });
    kv.allocateSlots(A, 6); // [0, 1], block 1 half full
    kv.fork(A, B);
    expect(kv.blockTable(B)).toEqual([0, 1]);
    expect(kv.numTokens(B)).toBe(6);
    expect(kv.pool.refCount(0)).toBe(2);
    expect(kv.pool.refCount(1)).toBe(2);
    expect(kv.numUsedBlocks).toBe(2);
    // Writing position 6 into the shared block 1 would change B's view: refuse until prepareAppend.
    expectTernionError(() => kv.allocateSlots(A, 7), 'INVALID_ARGUMENT', /shared or cached/);
    expect(kv.blocksNeeded(A, 7)).toBe(1);
    expect(kv.blocksNeeded(A, 9)).toBe(2);
    expect(kv.prepareAppend(A)).toEqual([{ src: 1, dst: 2 }]);
    expect(kv.blockTable(A)).toEqual([0, 2]);
    expect(kv.pool.refCount(1)).toBe(1);
    expect(kv.prepareAppend(A)).toEqual([]);
    expect(kv.allocateSlots(A, 7)).toBe(true);
    expect(slots(kv, A, 4, 3)).toEqual([8, 9, 10]);
    // B is now the only owner of block 1: it appends in place.
    expect(kv.prepareAppend(B)).toEqual([]);
    expect(kv.blocksNeeded(B, 8)).toBe(0);
    expect(kv.allocateSlots(B, 8)).toBe(true);
    expect(kv.blockTable(B)).toEqual([0, 1]);
    // Block 0 stays shared: it is full, so nobody writes it again.
    expect(kv.pool.refCount(0)).toBe(2);
  });

  it('needs no copy when the fork point is a block boundary', () => {
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 2 });
    kv.allocateSlots(A, 4);
    kv.fork(A, B);
    expect(kv.prepareAppend(A)).toEqual([]);
    expect(kv.allocateSlots(A, 5)).toBe(true);
    expect(kv.blockTable(A)).toEqual([0, 1, 2]);
    expect(kv.blockTable(B)).toEqual([0, 1]);
  });

  it('prepareAppend returns null (and changes nothing) when no block is free for the copy', () => {
    const kv = new KvCacheManager({ numBlocks: 2, blockSize: 4 });
    kv.allocateSlots(A, 5);
    kv.fork(A, B);
    expect(kv.prepareAppend(A)).toBeNull();
    expect(kv.blockTable(A)).toEqual([0, 1]);
    expect(kv.pool.refCount(1)).toBe(2);
    kv.free(B);
    expect(kv.prepareAppend(A)).toEqual([]);
    expect(kv.pool.refCount(1)).toBe(1);
  });

  it('freeing a fork releases only its references', () => {
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 2 });
    kv.allocateSlots(A, 3);
    kv.fork(A, B);
    kv.fork(B, C);
    expect(kv.pool.refCount(0)).toBe(3);
    kv.free(B);
    expect(kv.pool.refCount(0)).toBe(2);
    expect(kv.numFreeBlocks).toBe(2);
    kv.free(A);
    kv.free(C);
    expect(kv.numFreeBlocks).toBe(4);
  });
});

describe('KvCacheManager: prefix caching', () => {
  const prompt = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20];

  /** A sequence that wrote the K/V of `tokens` and committed its full blocks. */
  function written(kv: KvCacheManager, seq: number, tokens: number[]): void {
    const id = asSeqId(seq);
    const cached = kv.addSequence(id, tokens);
    expect(kv.prepareAppend(id)).toEqual([]);
    expect(kv.allocateSlots(id, tokens.length)).toBe(true);
    expect(kv.numTokens(id)).toBe(tokens.length);
    kv.commitFullBlocks(id, tokens);
    expect(cached % kv.blockSize).toBe(0);
  }

  it('reuses committed full blocks for a later prompt, never the whole prompt', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    kv.addSequence(A);
    kv.allocateSlots(A, 10);
    expect(kv.commitFullBlocks(A, prompt.slice(0, 3))).toBe(0);
    expect(kv.commitFullBlocks(A, prompt)).toBe(2);
    expect(kv.commitFullBlocks(A, prompt)).toBe(0);
    expect(kv.numCachedBlocks).toBe(2);
    const tableA = [...kv.blockTable(A)];
    kv.free(A);
    expect(kv.numFreeBlocks).toBe(8); // cached blocks are free, just findable

    const hit = kv.findCachedPrefix([...prompt.slice(0, 8), 99]);
    expect(hit.numCachedTokens).toBe(8);
    expect(hit.blocks).toEqual(tableA.slice(0, 2));
    // Exactly 8 tokens: the last must be computed for logits, so only the first block counts.
    expect(kv.findCachedPrefix(prompt.slice(0, 8)).numCachedTokens).toBe(4);
    expect(kv.findCachedPrefix(prompt.slice(0, 9)).numCachedTokens).toBe(8);
    expect(kv.findCachedPrefix([11, 12, 13, 99, 15, 16, 17, 18, 19]).numCachedTokens).toBe(0);
    expect(kv.findCachedPrefix([]).numCachedTokens).toBe(0);

    expect(kv.addSequence(B, [...prompt.slice(0, 8), 99, 98])).toBe(8);
    expect(kv.blockTable(B)).toEqual(tableA.slice(0, 2));
    expect(kv.numTokens(B)).toBe(8);
    expect(kv.pool.refCount(tableA[0]!)).toBe(1);
    expect(kv.numFreeBlocks).toBe(6);
    expect(kv.prefixCacheQueries).toBe(10);
    expect(kv.prefixCacheHits).toBe(8);
    // The rest of B's prompt goes to a fresh block, so the cached ones are never written.
    expect(kv.prepareAppend(B)).toEqual([]);
    expect(kv.allocateSlots(B, 10)).toBe(true);
    expect(kv.blockTable(B).slice(0, 2)).toEqual(tableA.slice(0, 2));
    expect(kv.addSequence(C, [1, 2, 3])).toBe(0);
    expect(kv.prefixCacheQueries).toBe(13);
    expect(kv.prefixCacheHits).toBe(8);
  });

  it('shares the blocks of a running sequence with a new prompt', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    written(kv, 1, prompt);
    expect(kv.addSequence(B, prompt)).toBe(8);
    expect(kv.blockTable(B)).toEqual(kv.blockTable(A).slice(0, 2));
    expect(kv.pool.refCount(kv.blockTable(A)[0]!)).toBe(2);
    // B committing the same blocks again changes nothing.
    expect(kv.allocateSlots(B, 10)).toBe(true);
    expect(kv.commitFullBlocks(B, prompt)).toBe(0);
    expect(kv.numCachedBlocks).toBe(2);
  });

  it('evicts cached blocks in LRU order when the pool runs short', () => {
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 2 });
    written(kv, 1, [1, 2, 3, 4, 5]);
    kv.free(A); // tail first: the free queue ends ..., block 1, block 0
    expect(kv.findCachedPrefix([1, 2, 3, 4, 5]).numCachedTokens).toBe(4);
    expect(kv.allocateSlots(B, 6)).toBe(true); // takes 3, 2, 1: evicts block 1
    expect(kv.blockTable(B)).toEqual([3, 2, 1]);
    expect(kv.findCachedPrefix([1, 2, 3, 4, 5]).numCachedTokens).toBe(2);
    expect(kv.allocateSlots(C, 1)).toBe(true); // evicts block 0
    expect(kv.findCachedPrefix([1, 2, 3, 4, 5]).numCachedTokens).toBe(0);
    expect(kv.numCachedBlocks).toBe(0);
  });

  it('never reuses a block whose parent identity was evicted, even if the parent is cached again', () => {
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 2 });
    written(kv, 1, [1, 2, 3, 4, 5]); // blocks 0, 1, 2; 0 and 1 cached
    kv.pool.touch(1); // pin block 1 (as if some sequence still held it)
    kv.free(A); // queue: 3, 2, 0
    kv.addSequence(B);
    expect(kv.allocateSlots(B, 6)).toBe(true); // 3, 2, 0: block 0 evicted
    kv.commitFullBlocks(B, [1, 2, 9, 9, 9, 9]); // block 3 now caches [1, 2]
    expect(kv.pool.prefixCache.isCached(1)).toBe(true);
    const hit = kv.findCachedPrefix([1, 2, 3, 4, 5]);
    expect(hit.blocks).toEqual([3]); // block 1 was computed after the old block 0: not vouched for
    kv.pool.free(1);
  });

  it('a forced hash collision costs a hit, never a wrong block', () => {
    const constant: BlockHasher = (_hi, _lo, _tokens, _offset, _count, out) => {
      out[0] = 7;
      out[1] = 7;
    };
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 2, hasher: constant });
    written(kv, 1, [1, 2, 3, 4, 5]);
    expect(kv.numCachedBlocks).toBe(1); // the second block's hash was taken by the first
    expect(kv.findCachedPrefix([1, 2, 3, 4, 5]).blocks).toEqual(kv.blockTable(A).slice(0, 1));
    expect(kv.findCachedPrefix([5, 6, 3, 4, 5]).numCachedTokens).toBe(0);
    // Same block tokens, different position in the chain: the parent check rejects it.
    expect(kv.findCachedPrefix([1, 2, 1, 2, 5]).numCachedTokens).toBe(2);
  });

  it('never reuses a child of an evicted parent identity that was re-cached with other tokens', () => {
    // Hash = the block's single token, so any block with token 2 collides with any other, whatever precedes it.
    const tokenOnly: BlockHasher = (_hi, _lo, tokens, offset, _count, out) => {
      out[0] = tokens[offset]!;
      out[1] = 0;
    };
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 1, hasher: tokenOnly });
    written(kv, 1, [1]); // block 0 caches [1]
    kv.addSequence(B); // no prompt: computes [1, 2] itself in blocks 1 and 2
    kv.allocateSlots(B, 2);
    kv.commitFullBlocks(B, [1, 2]); // block 1 duplicates block 0; block 2 caches [2] after block 0
    expect(kv.numCachedBlocks).toBe(2);
    expect(kv.findCachedPrefix([1, 2, 0]).blocks).toEqual([0, 2]);
    kv.free(A); // block 0 is free but cached, B still holds block 2
    written(kv, 3, [5]); // block 3
    written(kv, 4, [9]); // evicts block 0 and caches [9] in it: same block id, new identity
    expect(kv.findCachedPrefix([9, 2, 0]).blocks).toEqual([0]); // block 2 followed [1], not [9]
    expect(kv.findCachedPrefix([1, 2, 0]).numCachedTokens).toBe(0);
  });

  it('a rollback uncommits the dropped blocks, so rewritten tokens chain from the right parent', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 1 });
    written(kv, 1, [1, 2]); // blocks 0, 1 cached
    kv.truncate(A, 1); // block 1 leaves A but stays cached (free)
    expect(kv.prepareAppend(A)).toEqual([]);
    kv.allocateSlots(A, 3); // blocks 2, 3 now hold [3, 4] after [1]
    expect(kv.commitFullBlocks(A, [1, 3, 4])).toBe(2);
    expect(kv.findCachedPrefix([1, 2, 4, 9]).blocks).toEqual([0, 1]);
    expect(kv.findCachedPrefix([1, 3, 4, 9]).blocks).toEqual([0, 2, 3]);
  });

  it('uncaches a block it must write into after a rollback', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 2 });
    written(kv, 1, [1, 2, 3, 4, 5]);
    const [, second] = kv.blockTable(A) as BlockId[];
    kv.truncate(A, 3); // rollback into block `second`, which is cached
    expectTernionError(() => kv.allocateSlots(A, 4), 'INVALID_ARGUMENT', /shared or cached/);
    expect(kv.prepareAppend(A)).toEqual([]);
    expect(kv.pool.prefixCache.isCached(second!)).toBe(false);
    expect(kv.allocateSlots(A, 4)).toBe(true);
    expect(kv.findCachedPrefix([1, 2, 3, 4, 5]).numCachedTokens).toBe(2);
    expect(kv.commitFullBlocks(A, [1, 2, 3, 7])).toBe(1);
    expect(kv.findCachedPrefix([1, 2, 3, 7, 0]).numCachedTokens).toBe(4);
    expect(kv.findCachedPrefix([1, 2, 3, 4, 0]).numCachedTokens).toBe(2);
  });

  it('copies a shared, cached tail instead of uncaching it', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 2 });
    written(kv, 1, [1, 2, 3, 4, 5]);
    kv.fork(A, B);
    kv.truncate(B, 3);
    const copies = kv.prepareAppend(B);
    expect(copies).toEqual([{ src: kv.blockTable(A)[1], dst: kv.blockTable(B)[1] }]);
    expect(kv.findCachedPrefix([1, 2, 3, 4, 5]).numCachedTokens).toBe(4);
  });

  it('can be disabled', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 2, enablePrefixCaching: false });
    expect(kv.addSequence(A, [1, 2, 3, 4, 5])).toBe(0);
    kv.allocateSlots(A, 5);
    expect(kv.commitFullBlocks(A, [1, 2, 3, 4, 5])).toBe(0);
    expect(kv.numCachedBlocks).toBe(0);
    expect(kv.addSequence(B, [1, 2, 3, 4, 5])).toBe(0);
    expect(kv.prefixCacheQueries).toBe(0);
  });
});

describe('KvCacheManager: bad arguments', () => {
  it('throws TypeError/RangeError naming the argument', () => {
    expect(() => new KvCacheManager({ numBlocks: 0, blockSize: 4 })).toThrow(/numBlocks/);
    expect(() => new KvCacheManager(undefined as never)).toThrow(TypeError);
    expect(() => new KvCacheManager({ numBlocks: 4, blockSize: 4, hasher: 3 as never })).toThrow(/hasher/);
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 4 });
    kv.allocateSlots(A, 5);
    expect(() => kv.allocateSlots(A, -1)).toThrow(RangeError);
    expect(() => kv.allocateSlots(A, 1.5)).toThrow(/numTokens must be an integer/);
    expect(() => kv.allocateSlots(asSeqId(-1), 1)).toThrow(/seq must be in/);
    expect(() => kv.allocateSlots('x' as never, 1)).toThrow(TypeError);
    expect(() => kv.numTokens(B)).toThrow(/seq 2 is not a live sequence/);
    expect(() => kv.addSequence(A)).toThrow(/already exists/);
    expect(() => kv.addSequence(B, [1, 2.5])).toThrow(/promptTokens\[1\]/);
    expect(() => kv.addSequence(B, 'abc' as never)).toThrow(TypeError);
    expect(() => kv.slotsFor(A, 4, 2, new Int32Array(2))).toThrow(/count/);
    expect(() => kv.slotsFor(A, 6, 0, new Int32Array(2))).toThrow(/fromPos/);
    expect(() => kv.slotsFor(A, 0, 2, new Float32Array(2) as never)).toThrow(/out must be an Int32Array/);
    expect(() => kv.slotsFor(A, 0, 2, new Int32Array(2), 1)).toThrow(/outOffset/);
    expect(() => kv.fillBlockTable(A, new Int32Array(2), 1)).toThrow(/room for 1 blocks/);
    expect(() => kv.fillBlockTable(A, [0, 0] as never)).toThrow(TypeError);
    expect(() => kv.commitFullBlocks(A, [1, 2, 3, 2 ** 31])).toThrow(/int32/);
    expect(() => kv.fork(A, A)).toThrow(/already exists/);
    expect(() => kv.fork(B, C)).toThrow(/parent 2 is not a live sequence/);
    expect(() => kv.truncate(A, 6)).toThrow(/numTokens must be in 0..5/);
    expect(() => kv.free(0.5 as never)).toThrow(TypeError);
    expect(() => kv.findCachedPrefix(null as never)).toThrow(/tokens must be/);
  });
});
