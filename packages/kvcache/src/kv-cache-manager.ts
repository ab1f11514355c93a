import {
  asBlockId,
  type BlockCopy,
  type BlockId,
  type KvCacheManager as KvCacheManagerContract,
  type SeqId,
  TernionError,
} from '@ternion/contracts';
import { type BlockHasher, hashBlockTokens, ROOT_HASH_HI, ROOT_HASH_LO } from './block-hash.js';
import { BlockPool } from './block-pool.js';
import { checkInt, checkInt32Array, checkTokens } from './check-args.js';
import { SequenceState } from './sequence-state.js';

export interface KvCacheManagerOptions {
  /** Blocks in the arena (see `blocksForBudget`). */
  numBlocks: number;
  /** Tokens per block. */
  blockSize: number;
  /** Reuse K/V of identical prompt prefixes across sequences. Default true. */
  enablePrefixCaching?: boolean;
  /** The chained block hash; replaceable so tests can force collisions. Default `hashBlockTokens`. */
  hasher?: BlockHasher;
}

/** The result of a prefix-cache lookup: cached blocks covering the first `numCachedTokens` tokens. */
export interface CachedPrefix {
  readonly blocks: readonly BlockId[];
  readonly numCachedTokens: number;
}

const NO_COPIES: readonly BlockCopy[] = Object.freeze([]);
const MAX_TOKENS = 0x7fffffff;

/**
 * Per-sequence block tables over a {@link BlockPool}, with fork / copy-on-write sharing and prefix caching:
 * the bookkeeping half of PagedAttention (Kwon et al., "Efficient Memory Management for Large Language Model
 * Serving with PagedAttention", SOSP 2023), shaped after vLLM v1's `KVCacheManager`.
 *
 * A sequence's length `numTokens` counts the positions that hold, or are about to hold, K/V. Writes only go
 * to positions a step newly allocated, so the one block that can be both shared and written is the last,
 * partially filled one: `prepareAppend` gives the sequence a private copy of it first.
 */
export class KvCacheManager implements KvCacheManagerContract {
  readonly pool: BlockPool;
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly enablePrefixCaching: boolean;
  private readonly hasher: BlockHasher;
  private readonly seqs = new Map<number, SequenceState>();
  /** (2) scratch for the hasher's [hi, lo]. */
  private readonly hashOut = new Uint32Array(2);
  private queries = 0;
  private hits = 0;

  constructor(options: KvCacheManagerOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('KvCacheManager: options must be an object { numBlocks, blockSize }');
    }
    this.pool = new BlockPool({ numBlocks: options.numBlocks, blockSize: options.blockSize });
    this.blockSize = this.pool.blockSize;
    this.numBlocks = this.pool.numBlocks;
    this.enablePrefixCaching = options.enablePrefixCaching ?? true;
    if (options.hasher !== undefined && typeof options.hasher !== 'function') {
      throw new TypeError('options.hasher must be a function (see BlockHasher)');
    }
    this.hasher = options.hasher ?? hashBlockTokens;
  }

  get numFreeBlocks(): number {
    return this.pool.numFreeBlocks;
  }

  get numUsedBlocks(): number {
    return this.pool.numUsedBlocks;
  }

  get numCachedBlocks(): number {
    return this.pool.numCachedBlocks;
  }

  get numSequences(): number {
    return this.seqs.size;
  }

  get prefixCacheQueries(): number {
    return this.queries;
  }

  get prefixCacheHits(): number {
    return this.hits;
  }

  usage(): number {
    return this.pool.numUsedBlocks / this.numBlocks;
  }

  has(seq: SeqId): boolean {
    return this.seqs.has(seq);
  }

  numTokens(seq: SeqId): number {
    return this.state(seq, 'seq').numTokens;
  }

  /**
   * The longest run of cached full blocks that prefixes `tokens`, without taking references. It covers at
   * most `tokens.length - 1` tokens: a prompt that is entirely cached still needs its last token computed
   * to produce logits (vLLM `get_computed_blocks` does the same), and only whole blocks are ever cached.
   */
  findCachedPrefix(tokens: ArrayLike<number>): CachedPrefix {
    const checked = checkTokens(tokens, 'tokens');
    const blocks: BlockId[] = [];
    this.walkCachedPrefix(checked, (block) => blocks.push(asBlockId(block)));
    return { blocks, numCachedTokens: blocks.length * this.blockSize };
  }

  addSequence(seq: SeqId, promptTokens?: ArrayLike<number>): number {
    this.checkSeqId(seq, 'seq');
    if (this.seqs.has(seq)) throw new RangeError(`seq ${seq} already exists`);
    const tokens = promptTokens === undefined ? undefined : checkTokens(promptTokens, 'promptTokens');
    const state = new SequenceState();
    if (tokens !== undefined && this.enablePrefixCaching) {
      this.walkCachedPrefix(tokens, (block, hi, lo) => {
        this.pool.touch(block);
        state.blocks.push(asBlockId(block));
        state.pushCommitted(hi, lo, block, this.pool.prefixCache.epoch(block));
      });
      state.numTokens = state.blocks.length * this.blockSize;
      this.queries += tokens.length;
      this.hits += state.numTokens;
    }
    this.seqs.set(seq, state);
    return state.numTokens;
  }

  /** A sequence that is not live counts as empty (allocateSlots would create it). */
  blocksNeeded(seq: SeqId, numTokens: number): number {
    this.checkSeqId(seq, 'seq');
    checkInt(numTokens, 'numTokens', 0, MAX_TOKENS);
    const state = this.seqs.get(seq);
    if (state === undefined) return Math.ceil(numTokens / this.blockSize);
    if (numTokens <= state.numTokens) return 0;
    const grow = Math.ceil(numTokens / this.blockSize) - state.blocks.length;
    return grow + (this.sharedTail(state) === -1 ? 0 : 1);
  }

  prepareAppend(seq: SeqId): readonly BlockCopy[] | null {
    const state = this.state(seq, 'seq');
    if (state.numTokens % this.blockSize === 0) return NO_COPIES;
    const index = Math.floor(state.numTokens / this.blockSize);
    const tail = state.blocks[index]!;
    if (this.pool.refCount(tail) > 1) {
      if (this.pool.numFreeBlocks === 0) return null;
      const copy = this.pool.allocate();
      this.pool.free(tail);
      state.blocks[index] = copy;
      return [{ src: tail, dst: copy }];
    }
    // Ours alone but cached (a rollback into a committed block): writing would change what the cache
    // promises, so the block stops being cached (its epoch moves on, invalidating chains through it).
    this.pool.prefixCache.remove(tail);
    return NO_COPIES;
  }

  /** Creates `seq` (empty) if it is not live yet. */
  allocateSlots(seq: SeqId, numTokens: number): boolean {
    checkInt(numTokens, 'numTokens', 0, MAX_TOKENS);
    const created = !this.seqs.has(seq);
    if (created) this.addSequence(seq);
    const state = this.state(seq, 'seq');
    if (numTokens <= state.numTokens) return true;
    if (state.numTokens % this.blockSize !== 0) {
      const tail = state.blocks[Math.floor(state.numTokens / this.blockSize)]!;
      if (this.pool.refCount(tail) > 1 || this.pool.prefixCache.isCached(tail)) {
        throw new TernionError(
          'INVALID_ARGUMENT',
          `seq ${seq}: its last block ${tail} is shared or cached, so new tokens cannot be written into it`,
          { hint: 'call prepareAppend(seq) (and perform the copies it returns) before allocateSlots' },
        );
      }
    }
    const grow = Math.ceil(numTokens / this.blockSize) - state.blocks.length;
    if (grow > this.pool.numFreeBlocks) {
      if (created) this.seqs.delete(seq);
      return false;
    }
    for (let i = 0; i < grow; i++) state.blocks.push(this.pool.allocate());
    state.numTokens = numTokens;
    return true;
  }

  slotsFor(seq: SeqId, fromPos: number, count: number, out: Int32Array, outOffset = 0): void {
    const state = this.state(seq, 'seq');
    checkInt(fromPos, 'fromPos', 0, state.numTokens);
    checkInt(count, 'count', 0, state.numTokens - fromPos);
    checkInt32Array(out, 'out');
    checkInt(outOffset, 'outOffset', 0, out.length - count);
    const bs = this.blockSize;
    for (let i = 0; i < count; i++) {
      const pos = fromPos + i;
      out[outOffset + i] = state.blocks[Math.floor(pos / bs)]! * bs + (pos % bs);
    }
  }

  blockTable(seq: SeqId): readonly BlockId[] {
    return this.state(seq, 'seq').blocks;
  }

  fillBlockTable(seq: SeqId, out: Int32Array, offset = 0): number {
    const blocks = this.state(seq, 'seq').blocks;
    checkInt32Array(out, 'out');
    checkInt(offset, 'offset', 0, out.length);
    if (offset + blocks.length > out.length) {
      throw new RangeError(
        `out has room for ${out.length - offset} blocks after offset ${offset}, seq ${seq} has ${blocks.length}`,
      );
    }
    for (let i = 0; i < blocks.length; i++) out[offset + i] = blocks[i]!;
    return blocks.length;
  }

  commitFullBlocks(seq: SeqId, tokens: ArrayLike<number>): number {
    const state = this.state(seq, 'seq');
    const checked = checkTokens(tokens, 'tokens');
    if (!this.enablePrefixCaching) return 0;
    const bs = this.blockSize;
    const numFull = Math.floor(Math.min(checked.length, state.numTokens) / bs);
    const first = state.numCommittedBlocks;
    const cache = this.pool.prefixCache;
    for (let i = first; i < numFull; i++) {
      const parentHi = i === 0 ? ROOT_HASH_HI : state.chainHi[i - 1]!;
      const parentLo = i === 0 ? ROOT_HASH_LO : state.chainLo[i - 1]!;
      this.hasher(parentHi, parentLo, checked, i * bs, bs, this.hashOut);
      const hi = this.hashOut[0]!;
      const lo = this.hashOut[1]!;
      const parentBlock = i === 0 ? -1 : state.identityBlock[i - 1]!;
      const parentEpoch = i === 0 ? 0 : state.identityEpoch[i - 1]!;
      let identity = -1;
      // A chain the cache cannot vouch for (collision, or the parent's identity was evicted) stays unindexed.
      if (i === 0 || cache.isIdentity(parentBlock, parentEpoch)) {
        const own = state.blocks[i]!;
        const found = cache.find(hi, lo, parentBlock, parentEpoch, checked, i * bs);
        if (cache.isCached(own)) {
          // Shared with the sequence that cached it (fork or prefix hit): only reuse what verifies.
          if (found === own) identity = own;
        } else if (found !== -1) {
          identity = found;
        } else if (cache.insert(own, hi, lo, parentBlock, parentEpoch, checked, i * bs)) {
          identity = own;
        }
      }
      state.pushCommitted(hi, lo, identity, identity === -1 ? 0 : cache.epoch(identity));
    }
    return Math.max(0, numFull - first);
  }

  fork(parent: SeqId, child: SeqId): void {
    const state = this.state(parent, 'parent');
    this.checkSeqId(child, 'child');
    if (this.seqs.has(child)) throw new RangeError(`child seq ${child} already exists`);
    for (const block of state.blocks) this.pool.touch(block);
    this.seqs.set(child, state.clone());
  }

  truncate(seq: SeqId, numTokens: number): void {
    const state = this.state(seq, 'seq');
    checkInt(numTokens, 'numTokens', 0, state.numTokens);
    const keep = Math.ceil(numTokens / this.blockSize);
    // Tail first, so the blocks least likely to be reused are evicted first (vLLM frees in reverse too).
    for (let i = state.blocks.length - 1; i >= keep; i--) this.pool.free(state.blocks[i]!);
    state.blocks.length = keep;
    state.numTokens = numTokens;
    state.uncommitFrom(Math.floor(numTokens / this.blockSize));
  }

  /** Releases every block of `seq`; a no-op if `seq` is not live (so it can be called more than once). */
  free(seq: SeqId): void {
    this.checkSeqId(seq, 'seq');
    if (!this.seqs.has(seq)) return;
    this.truncate(seq, 0);
    this.seqs.delete(seq);
  }

  /** The last block if it is partially filled and shared (so the next write needs a copy), else -1. */
  private sharedTail(state: SequenceState): number {
    if (state.numTokens % this.blockSize === 0) return -1;
    const tail = state.blocks[Math.floor(state.numTokens / this.blockSize)]!;
    return this.pool.refCount(tail) > 1 ? tail : -1;
  }

  private walkCachedPrefix(
    tokens: ArrayLike<number>,
    visit: (block: number, hi: number, lo: number) => void,
  ): void {
    if (!this.enablePrefixCaching || tokens.length === 0) return;
    const bs = this.blockSize;
    const maxBlocks = Math.floor((tokens.length - 1) / bs);
    const cache = this.pool.prefixCache;
    let hi = ROOT_HASH_HI;
    let lo = ROOT_HASH_LO;
    let parentBlock = -1;
    let parentEpoch = 0;
    for (let i = 0; i < maxBlocks; i++) {
      this.hasher(hi, lo, tokens, i * bs, bs, this.hashOut);
      hi = this.hashOut[0]!;
      lo = this.hashOut[1]!;
      const block = cache.find(hi, lo, parentBlock, parentEpoch, tokens, i * bs);
      if (block === -1) return;
      visit(block, hi, lo);
      parentBlock = block;
      parentEpoch = cache.epoch(block);
    }
  }

  private state(seq: SeqId, name: string): SequenceState {
    const state = this.seqs.get(seq);
    if (state === undefined) {
      this.checkSeqId(seq, name);
      throw new RangeError(`${name} ${seq} is not a live sequence (addSequence or fork it first)`);
    }
    return state;
  }

  private checkSeqId(seq: SeqId, name: string): void {
    checkInt(seq, name, 0, Number.MAX_SAFE_INTEGER);
  }
}
