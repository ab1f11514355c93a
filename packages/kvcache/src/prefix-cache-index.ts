import { checkInt } from './check-args.js';

/**
 * The prefix cache's index: which full blocks hold K/V that a later prompt may reuse, found by their chained
 * block hash (block-hash.ts).
 *
 * A cached block has an *identity* `(block, epoch)`; the epoch of a block is bumped whenever its identity
 * ends (eviction, or a write into it), so a stale reference to an old identity can never match again.
 * Every cached block records its tokens and the identity of its parent (the cached block holding the
 * previous `blockSize` tokens of the prefix; `(-1, 0)` for the first block). `find` accepts a candidate
 * only if its hash, its parent identity and its tokens all match; by induction over the chain, a hit at
 * block i holds exactly the K/V of the looked-up tokens 0 .. (i+1)·blockSize - 1, whatever the hash does.
 *
 * One block per hash: a second block with the same hash (a duplicate, or a collision) is not indexed.
 * vLLM keeps duplicates so block tables stay append-only; we keep block tables append-only too (the
 * duplicate stays where it is), we just don't index it.
 */
export class PrefixCacheIndex {
  readonly numBlocks: number;
  readonly blockSize: number;
  /** 53-bit key from the 64-bit hash -> block. */
  private readonly byKey = new Map<number, number>();
  /** (numBlocks) 1 while the block has a cached identity. */
  private readonly cached: Uint8Array;
  /** (numBlocks) identity generation; f64 so it cannot wrap around. */
  private readonly epochs: Float64Array;
  /** (numBlocks) */
  private readonly hashHi: Uint32Array;
  /** (numBlocks) */
  private readonly hashLo: Uint32Array;
  /** (numBlocks) parent identity: block id, or -1 for the first block of a prefix. */
  private readonly parentBlock: Int32Array;
  /** (numBlocks) parent identity: epoch. */
  private readonly parentEpoch: Float64Array;
  /** (numBlocks, blockSize) token ids of each cached block, to verify hits. */
  private readonly tokens: Int32Array;

  constructor(numBlocks: number, blockSize: number) {
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.cached = new Uint8Array(numBlocks);
    this.epochs = new Float64Array(numBlocks);
    this.hashHi = new Uint32Array(numBlocks);
    this.hashLo = new Uint32Array(numBlocks);
    this.parentBlock = new Int32Array(numBlocks);
    this.parentEpoch = new Float64Array(numBlocks);
    this.tokens = new Int32Array(numBlocks * blockSize);
  }

  /** Number of blocks with a cached identity (in use or free-but-evictable). */
  get size(): number {
    return this.byKey.size;
  }

  isCached(block: number): boolean {
    this.checkBlock(block, 'block');
    return this.cached[block] === 1;
  }

  epoch(block: number): number {
    this.checkBlock(block, 'block');
    return this.epochs[block]!;
  }

  /** True if `block` still has the cached identity it had at `epoch`. */
  isIdentity(block: number, epoch: number): boolean {
    return block >= 0 && this.cached[block] === 1 && this.epochs[block] === epoch;
  }

  /**
   * The cached block whose hash is (hi, lo), whose parent identity is (parentBlock, parentEpoch) and whose
   * tokens equal `tokens[offset .. offset + blockSize - 1]`; -1 if there is none.
   */
  find(
    hi: number,
    lo: number,
    parentBlock: number,
    parentEpoch: number,
    tokens: ArrayLike<number>,
    offset: number,
  ): number {
    const block = this.byKey.get(keyOf(hi, lo));
    if (block === undefined) return -1;
    if (this.hashHi[block] !== hi || this.hashLo[block] !== lo) return -1;
    if (this.parentBlock[block] !== parentBlock || this.parentEpoch[block] !== parentEpoch) return -1;
    const base = block * this.blockSize;
    for (let i = 0; i < this.blockSize; i++) {
      if (this.tokens[base + i] !== tokens[offset + i]) return -1;
    }
    return block;
  }

  /**
   * Gives `block` a cached identity. False (nothing changes) if another block already has this hash or
   * `block` is already cached.
   */
  insert(
    block: number,
    hi: number,
    lo: number,
    parentBlock: number,
    parentEpoch: number,
    tokens: ArrayLike<number>,
    offset: number,
  ): boolean {
    this.checkBlock(block, 'block');
    checkInt(hi, 'hi', 0, 0xffffffff);
    checkInt(lo, 'lo', 0, 0xffffffff);
    if (parentBlock !== -1) this.checkBlock(parentBlock, 'parentBlock');
    const key = keyOf(hi, lo);
    if (this.cached[block] === 1 || this.byKey.has(key)) return false;
    this.byKey.set(key, block);
    this.cached[block] = 1;
    this.hashHi[block] = hi;
    this.hashLo[block] = lo;
    this.parentBlock[block] = parentBlock;
    this.parentEpoch[block] = parentEpoch;
    const base = block * this.blockSize;
    for (let i = 0; i < this.blockSize; i++) this.tokens[base + i] = tokens[offset + i]!;
    return true;
  }

  /** Ends the cached identity of `block` (no-op if it has none). */
  remove(block: number): void {
    this.checkBlock(block, 'block');
    if (this.cached[block] !== 1) return;
    this.byKey.delete(keyOf(this.hashHi[block]!, this.hashLo[block]!));
    this.cached[block] = 0;
    this.epochs[block] = this.epochs[block]! + 1;
  }

  /** The parent identity a cached block was registered with (for tests and debugging). */
  parentOf(block: number): { readonly block: number; readonly epoch: number } {
    this.checkBlock(block, 'block');
    return { block: this.parentBlock[block]!, epoch: this.parentEpoch[block]! };
  }

  /** The tokens a cached block was registered with (a copy; for tests and debugging). */
  tokensOf(block: number): Int32Array {
    this.checkBlock(block, 'block');
    const base = block * this.blockSize;
    return this.tokens.slice(base, base + this.blockSize);
  }

  private checkBlock(block: number, name: string): void {
    checkInt(block, name, 0, this.numBlocks - 1);
  }
}

/** A Map key from the 64-bit hash: all 32 bits of hi and the top 21 of lo (exact in a double). */
function keyOf(hi: number, lo: number): number {
  return hi * 0x200000 + (lo >>> 11);
}
