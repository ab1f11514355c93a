import type { BlockId, SeqId } from './ids.js';

/** The KV-cache bookkeeping the engine talks to; the K/V bytes live in a native arena indexed by BlockId. */
export interface KvCacheManager {
  /** Tokens per block. */
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly numFreeBlocks: number;
  /** Ensures `seq` has slots for `numTokens` tokens in total; false (and no change) if blocks ran out. */
  allocateSlots(seq: SeqId, numTokens: number): boolean;
  /** The block table of a sequence: block ids in position order. */
  blockTable(seq: SeqId): readonly BlockId[];
  /** A new sequence sharing `parent`'s blocks (copy-on-write). */
  fork(parent: SeqId, child: SeqId): void;
  /** Drops tokens from position `numTokens` on (rollback). */
  truncate(seq: SeqId, numTokens: number): void;
  free(seq: SeqId): void;
}
