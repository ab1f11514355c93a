import { asSeqId } from '@ternion/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BlockHasher } from './block-hash.js';
import { KvCacheManager } from './kv-cache-manager.js';

/**
 * Random create / append / fork / truncate / free / commit / lookup programs against a model of the K/V
 * arena. The arena slot of position p of a sequence holds the *whole prefix* tokens[0..p] (a string), since
 * that is what K/V at p depends on; so reading every live sequence back through its block table checks at
 * once that no block was leaked, double-used or written while shared, and that every prefix-cache hit
 * returns exactly the K/V of the looked-up tokens.
 */

type Op =
  | { kind: 'add'; prompt: number[] }
  | { kind: 'extend'; pick: number; tokens: number[]; commit: boolean }
  | { kind: 'fork'; pick: number }
  | { kind: 'truncate'; pick: number; keep: number }
  | { kind: 'free'; pick: number }
  | { kind: 'commit'; pick: number }
  | { kind: 'lookup'; prompt: number[] }
  | { kind: 'recall'; pick: number; next: number };

// A tiny vocabulary so prompts share prefixes often.
const token = fc.integer({ min: 0, max: 2 });
const prompt = fc.array(token, { maxLength: 12 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('add' as const), prompt }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('extend' as const),
      pick: fc.nat(),
      tokens: fc.array(token, { minLength: 1, maxLength: 6 }),
      commit: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fork' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('truncate' as const), pick: fc.nat(), keep: fc.nat() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('commit' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lookup' as const), prompt }) },
  // Looks up a token sequence some sequence once held (maybe since rolled back): the likeliest stale hit.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('recall' as const), pick: fc.nat(), next: token }) },
);

/** Collides all the time: one bit of hash per block. */
const weakHasher: BlockHasher = (parentHi, _lo, tokens, offset, count, out) => {
  let sum = parentHi;
  for (let i = 0; i < count; i++) sum += tokens[offset + i]!;
  out[0] = sum & 1;
  out[1] = 0;
};

/** Ignores the parent hash: equal blocks collide whatever precedes them, as a chained-hash bug would. */
const blockOnlyHasher: BlockHasher = (_hi, _lo, tokens, offset, count, out) => {
  let h = 0;
  for (let i = 0; i < count; i++) h = h * 3 + tokens[offset + i]!;
  out[0] = h;
  out[1] = 0;
};

const prefixKeys = (tokens: readonly number[]): string[] => {
  const keys: string[] = [];
  let key = '';
  for (const t of tokens) keys.push((key += `${t},`));
  return keys;
};

function runProgram(numBlocks: number, blockSize: number, hasher: BlockHasher | undefined, ops: Op[]): void {
  const kv = new KvCacheManager({ numBlocks, blockSize, hasher });
  const bs = blockSize;
  /** (numBlocks, blockSize) model of the K/V arena: the prefix each slot's K/V was computed from. */
  const arena: (string | undefined)[] = new Array(numBlocks * bs).fill(undefined);
  /** Live sequences: the tokens whose K/V each has written. */
  const model = new Map<number, number[]>();
  /** Every token sequence any sequence has held. */
  const history: number[][] = [];
  let nextId = 0;
  let queries = 0;
  let hits = 0;
  const pick = (n: number): number | undefined => {
    const ids = [...model.keys()];
    return ids.length === 0 ? undefined : ids[n % ids.length];
  };

  const extend = (id: number, tokens: number[], commit: boolean): void => {
    const seq = asSeqId(id);
    const before = model.get(id)!;
    const all = [...before, ...tokens];
    const needed = kv.blocksNeeded(seq, all.length);
    const freeBefore = kv.numFreeBlocks;
    const copies = kv.prepareAppend(seq);
    if (copies === null) {
      expect(freeBefore).toBe(0);
      expect(needed).toBeGreaterThan(0);
      return;
    }
    for (const { src, dst } of copies) {
      for (let j = 0; j < bs; j++) arena[dst * bs + j] = arena[src * bs + j];
    }
    const ok = kv.allocateSlots(seq, all.length);
    expect(ok).toBe(needed <= freeBefore);
    if (!ok) {
      expect(kv.numTokens(seq)).toBe(before.length);
      return;
    }
    const slots = new Int32Array(tokens.length);
    kv.slotsFor(seq, before.length, tokens.length, slots);
    const keys = prefixKeys(all);
    for (let i = 0; i < tokens.length; i++) {
      const block = Math.floor(slots[i]! / bs);
      // The kvWrite of this step must hit a block nobody else sees and the prefix cache does not vouch for.
      expect(kv.pool.refCount(block)).toBe(1);
      expect(kv.pool.prefixCache.isCached(block)).toBe(false);
      arena[slots[i]!] = keys[before.length + i];
    }
    model.set(id, all);
    history.push(all);
    if (commit) kv.commitFullBlocks(seq, all);
  };

  const checkHit = (tokens: number[], blocks: readonly number[], numCachedTokens: number): void => {
    expect(numCachedTokens).toBe(blocks.length * bs);
    expect(numCachedTokens).toBeLessThanOrEqual(Math.max(0, tokens.length - 1));
    const keys = prefixKeys(tokens);
    blocks.forEach((block, i) => {
      for (let j = 0; j < bs; j++) expect(arena[block * bs + j]).toBe(keys[i * bs + j]);
    });
  };

  const checkInvariants = (): void => {
    const refs = new Int32Array(numBlocks);
    for (const [id, tokens] of model) {
      const seq = asSeqId(id);
      expect(kv.numTokens(seq)).toBe(tokens.length);
      const table = kv.blockTable(seq);
      expect(table.length).toBe(Math.ceil(tokens.length / bs));
      for (const block of table) refs[block]!++;
      const keys = prefixKeys(tokens);
      for (let p = 0; p < tokens.length; p++) {
        expect(arena[table[Math.floor(p / bs)]! * bs + (p % bs)]).toBe(keys[p]);
      }
    }
    let numFree = 0;
    for (let b = 0; b < numBlocks; b++) {
      expect(kv.pool.refCount(b)).toBe(refs[b]);
      expect(kv.pool.isFree(b)).toBe(refs[b] === 0);
      if (refs[b] === 0) numFree++;
      if (kv.pool.prefixCache.isCached(b)) {
        // A cached block is full, and its K/V still belongs to the tokens it was registered with.
        const registered = kv.pool.prefixCache.tokensOf(b);
        for (let j = 0; j < bs; j++) {
          const key = arena[b * bs + j];
          expect(key).toBeDefined();
          expect(key!.split(',').at(-2)).toBe(String(registered[j]));
        }
        // Its K/V was computed right after its parent's: the chain the cache vouches for is the real one.
        const parent = kv.pool.prefixCache.parentOf(b);
        const first = arena[b * bs]!;
        const prefixBefore = first.slice(0, first.lastIndexOf(',', first.length - 2) + 1);
        if (parent.block === -1) expect(prefixBefore).toBe('');
        else if (kv.pool.prefixCache.isIdentity(parent.block, parent.epoch)) {
          expect(arena[parent.block * bs + bs - 1]).toBe(prefixBefore);
        }
      }
    }
    expect(kv.numFreeBlocks).toBe(numFree);
    expect(kv.numUsedBlocks).toBe(numBlocks - numFree);
    expect(kv.prefixCacheQueries).toBe(queries);
    expect(kv.prefixCacheHits).toBe(hits);
  };

  for (const o of ops) {
    switch (o.kind) {
      case 'add': {
        const id = nextId++;
        const cached = kv.addSequence(asSeqId(id), o.prompt);
        checkHit(o.prompt, kv.blockTable(asSeqId(id)), cached);
        queries += o.prompt.length;
        hits += cached;
        model.set(id, o.prompt.slice(0, cached));
        if (o.prompt.length > cached) extend(id, o.prompt.slice(cached), true);
        break;
      }
      case 'extend': {
        const id = pick(o.pick);
        if (id !== undefined) extend(id, o.tokens, o.commit);
        break;
      }
      case 'fork': {
        const id = pick(o.pick);
        if (id === undefined) break;
        const child = nextId++;
        kv.fork(asSeqId(id), asSeqId(child));
        model.set(child, [...model.get(id)!]);
        break;
      }
      case 'truncate': {
        const id = pick(o.pick);
        if (id === undefined) break;
        const tokens = model.get(id)!;
        const keep = o.keep % (tokens.length + 1);
        kv.truncate(asSeqId(id), keep);
        model.set(id, tokens.slice(0, keep));
        break;
      }
      case 'free': {
        const id = pick(o.pick);
        if (id === undefined) break;
        kv.free(asSeqId(id));
        model.delete(id);
        break;
      }
      case 'commit': {
        const id = pick(o.pick);
        if (id !== undefined) kv.commitFullBlocks(asSeqId(id), model.get(id)!);
        break;
      }
      case 'lookup': {
        const hit = kv.findCachedPrefix(o.prompt);
        checkHit(o.prompt, hit.blocks, hit.numCachedTokens);
        for (const block of hit.blocks) expect(kv.pool.prefixCache.isCached(block)).toBe(true);
        break;
      }
      case 'recall': {
        if (history.length === 0) break;
        const tokens = [...history[o.pick % history.length]!, o.next];
        const hit = kv.findCachedPrefix(tokens);
        checkHit(tokens, hit.blocks, hit.numCachedTokens);
        break;
      }
    }
    checkInvariants();
  }

  for (const id of [...model.keys()]) kv.free(asSeqId(id));
  model.clear();
  checkInvariants();
  expect(kv.numFreeBlocks).toBe(numBlocks);
  const free = new Set<number>();
  kv.pool.forEachFree((b) => free.add(b));
  expect(free.size).toBe(numBlocks);
}

describe('KvCacheManager (property)', () => {
  const shape = fc.record({
    numBlocks: fc.integer({ min: 1, max: 24 }),
    blockSize: fc.integer({ min: 1, max: 4 }),
  });
  const program = fc.array(op, { minLength: 1, maxLength: 60 });

  it('keeps block tables, ref counts, copy-on-write and prefix hits consistent (default hash)', () => {
    fc.assert(
      fc.property(shape, program, ({ numBlocks, blockSize }, ops) => {
        runProgram(numBlocks, blockSize, undefined, ops);
      }),
      { numRuns: 300 },
    );
  });

  it('stays correct when block hashes collide constantly', () => {
    fc.assert(
      fc.property(shape, program, ({ numBlocks, blockSize }, ops) => {
        runProgram(numBlocks, blockSize, weakHasher, ops);
      }),
      { numRuns: 300 },
    );
  });

  it('stays correct when the hash ignores the prefix', () => {
    fc.assert(
      fc.property(shape, program, ({ numBlocks, blockSize }, ops) => {
        runProgram(numBlocks, blockSize, blockOnlyHasher, ops);
      }),
      { numRuns: 300 },
    );
  });
});
