import type { BinaryHeap } from './binary-heap.js';

/** A candidate merge of two adjacent symbols, as both tokenizers queue it. */
export interface QueuedBigram {
  left: number;
  right: number;
  /** Length of left+right when queued; a different length later means one side has since merged. */
  size: number;
}

/**
 * The merge loop SentencePiece-style and byte-level BPE share (llama.cpp's llm_tokenizer_spm/bpe sessions):
 * symbols form a doubly linked list (`prev`/`next` indices, `len` in text units, 0 = merged away); the best
 * queued bigram is merged into its left symbol, and `addBigram` is offered the two new neighbour pairs.
 * The queue's order (scores for SPM, merge ranks for BPE) is the only difference between the two.
 */
export function mergeSymbols<B extends QueuedBigram>(
  queue: BinaryHeap<B>,
  len: number[],
  prev: number[],
  next: number[],
  addBigram: (left: number, right: number) => void,
): void {
  while (queue.size > 0) {
    const bigram = queue.pop() as B;
    const { left, right } = bigram;
    const l = len[left] as number;
    const r = len[right] as number;
    // Symbols only grow, so an unchanged total length means neither side merged since it was queued.
    if (l === 0 || r === 0 || l + r !== bigram.size) continue;
    len[left] = l + r;
    len[right] = 0;
    const after = next[right] as number;
    next[left] = after;
    if (after >= 0) prev[after] = left;
    addBigram(prev[left] as number, left);
    addBigram(left, after);
  }
}
