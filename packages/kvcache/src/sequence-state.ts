import type { BlockId } from '@ternion/contracts';

/**
 * What the manager knows about one sequence: its block table, its length, and for each *committed* (full,
 * hashed) block the chain hash and the cached identity that holds its K/V, which may be the sequence's own
 * block or an identical block cached earlier (-1 when the prefix cache could not vouch for it).
 */
export class SequenceState {
  /** (ceil(numTokens / blockSize)) block ids in position order. */
  blocks: BlockId[] = [];
  /** Positions holding (or about to hold) K/V. */
  numTokens = 0;
  /** (numCommittedBlocks) chain hash of block i, high lane. */
  chainHi: number[] = [];
  /** (numCommittedBlocks) chain hash of block i, low lane. */
  chainLo: number[] = [];
  /** (numCommittedBlocks) cached block holding the K/V of block i, or -1. */
  identityBlock: number[] = [];
  /** (numCommittedBlocks) epoch of that identity. */
  identityEpoch: number[] = [];

  get numCommittedBlocks(): number {
    return this.chainHi.length;
  }

  /** Forgets committed blocks from `numBlocks` on. */
  uncommitFrom(numBlocks: number): void {
    if (numBlocks >= this.chainHi.length) return;
    this.chainHi.length = numBlocks;
    this.chainLo.length = numBlocks;
    this.identityBlock.length = numBlocks;
    this.identityEpoch.length = numBlocks;
  }

  pushCommitted(hi: number, lo: number, block: number, epoch: number): void {
    this.chainHi.push(hi);
    this.chainLo.push(lo);
    this.identityBlock.push(block);
    this.identityEpoch.push(epoch);
  }

  clone(): SequenceState {
    const copy = new SequenceState();
    copy.blocks = this.blocks.slice();
    copy.numTokens = this.numTokens;
    copy.chainHi = this.chainHi.slice();
    copy.chainLo = this.chainLo.slice();
    copy.identityBlock = this.identityBlock.slice();
    copy.identityEpoch = this.identityEpoch.slice();
    return copy;
  }
}
