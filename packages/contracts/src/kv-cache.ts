import type { BlockId, SeqId } from './ids.js';

/**
 * A K/V copy the engine must perform natively before it writes any K/V of the current step: every layer's
 * K and V rows of block `src` are copied into block `dst` (copy-on-write of a shared, partially filled block).
 */
export interface BlockCopy {
  readonly src: BlockId;
  readonly dst: BlockId;
}

/**
 * The paged KV-cache bookkeeping the engine talks to (vLLM's PagedAttention design). The K/V bytes live in a
 * native arena indexed by BlockId; this interface only maps token positions of sequences to slots
 * (`slot = block * blockSize + pos % blockSize`).
 *
 * Per step, for each sequence it extends from `numTokens(seq)` to `n` tokens, the engine calls
 * `prepareAppend(seq)` (and performs the returned copies first), then `allocateSlots(seq, n)`, then
 * `slotsFor(seq, oldNumTokens, n - oldNumTokens, slots)` for the kvWrite kernel; after the forward pass it
 * calls `commitFullBlocks(seq, tokens)` so full blocks become reusable by later prompts.
 */
export interface KvCacheManager {
  /** Tokens per block. */
  readonly blockSize: number;
  readonly numBlocks: number;
  /** Blocks that can be allocated now (never used or evictable cached blocks). */
  readonly numFreeBlocks: number;
  readonly numUsedBlocks: number;
  /** Prompt tokens looked up in the prefix cache by `addSequence`, and how many of them hit. */
  readonly prefixCacheQueries: number;
  readonly prefixCacheHits: number;
  /** numUsedBlocks / numBlocks, in 0..1. */
  usage(): number;

  /**
   * Registers a new, empty sequence. With `promptTokens`, reuses the longest cached prefix of full blocks
   * (at most `promptTokens.length - 1` tokens: the last token is always computed, to get logits) and returns
   * how many tokens are already in the cache; those are the sequence's first `numTokens(seq)` tokens.
   */
  addSequence(seq: SeqId, promptTokens?: ArrayLike<number>): number;
  /** Token positions `seq` holds slots for. */
  numTokens(seq: SeqId): number;
  /**
   * Free blocks `prepareAppend(seq)` plus `allocateSlots(seq, numTokens)` would need (a sequence that is
   * not live counts as empty).
   */
  blocksNeeded(seq: SeqId, numTokens: number): number;
  /**
   * Makes the block the next token of `seq` goes into private: a shared, partially filled last block is
   * replaced by a fresh one and the copy is returned. `null` (and no change) when no block is free.
   */
  prepareAppend(seq: SeqId): readonly BlockCopy[] | null;
  /**
   * Ensures `seq` has slots for `numTokens` tokens in total (creating `seq` if it is not live); false (and no
   * change) if blocks ran out.
   */
  allocateSlots(seq: SeqId, numTokens: number): boolean;
  /** Writes the slots of positions `fromPos .. fromPos + count - 1` into `out[outOffset ..]`. */
  slotsFor(seq: SeqId, fromPos: number, count: number, out: Int32Array, outOffset?: number): void;
  /** The block table of a sequence: block ids in position order (a live view: copy it to keep it). */
  blockTable(seq: SeqId): readonly BlockId[];
  /** Writes the block table into `out[offset ..]`; returns the number of blocks written. */
  fillBlockTable(seq: SeqId, out: Int32Array, offset?: number): number;
  /**
   * Registers the full blocks of `seq` covered by `tokens` (its token ids from position 0 whose K/V has been
   * written) in the prefix cache; returns how many blocks became committed.
   */
  commitFullBlocks(seq: SeqId, tokens: ArrayLike<number>): number;
  /** A new sequence sharing all of `parent`'s blocks (copy-on-write). */
  fork(parent: SeqId, child: SeqId): void;
  /** Drops tokens from position `numTokens` on (rollback); frees blocks past the new end. */
  truncate(seq: SeqId, numTokens: number): void;
  /** Releases the blocks of `seq`; a no-op if it is not live. */
  free(seq: SeqId): void;
}
