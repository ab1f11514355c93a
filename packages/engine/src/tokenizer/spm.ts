import { BinaryHeap } from './binary-heap.js';
import { mergeSymbols } from './symbol-merge.js';
import { pushCodePointUtf8 } from './utf8.js';
import type { Vocab } from './vocab.js';

/** The SentencePiece meta symbol that stands for a space (U+2581). */
export const SPM_SPACE = '\u2581';

interface Bigram {
  left: number;
  right: number;
  score: number;
  /** Length of left+right when queued; a different length later means one side has since merged. */
  size: number;
}

// Highest score first; among equal scores the leftmost pair (llama.cpp `llm_bigram_spm::comparator`).
const bigramBefore = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);

/**
 * SentencePiece-style tokenization of one raw-text fragment, as llama.cpp's `llm_tokenizer_spm_session`
 * (originally from llama.cpp commit 074bea2): start from single code points, repeatedly merge the adjacent
 * pair whose concatenation is the vocabulary token with the highest score, then emit each piece as its
 * token or, when the piece is not in the vocabulary, as byte tokens `<0xXX>` (byte fallback).
 *
 * `text` must already be escaped (spaces replaced with ▁) and well-formed UTF-16. Appends ids to `out`.
 */
export function spmTokenize(
  vocab: Vocab,
  text: string,
  byteToken: (byte: number) => number,
  out: number[],
): void {
  // Symbols are code points; start/len are in UTF-16 units. (n_symbols)
  const start: number[] = [];
  const len: number[] = [];
  const prev: number[] = [];
  const next: number[] = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i) as number;
    const units = cp > 0xffff ? 2 : 1;
    const index = start.length;
    start.push(i);
    len.push(units);
    prev.push(index - 1);
    i += units;
    next.push(i === text.length ? -1 : index + 1);
  }
  if (start.length === 0) return;

  const queue = new BinaryHeap<Bigram>(bigramBefore);
  const tryAddBigram = (left: number, right: number) => {
    if (left === -1 || right === -1) return;
    const l = len[left] as number;
    const r = len[right] as number;
    const id = vocab.idOf.get(text.slice(start[left] as number, (start[left] as number) + l + r));
    if (id === undefined) return;
    queue.push({ left, right, score: vocab.scores[id] as number, size: l + r });
  };

  for (let i = 1; i < start.length; i++) tryAddBigram(i - 1, i);

  mergeSymbols(queue, len, prev, next, tryAddBigram);

  // Merged pieces are vocabulary tokens by construction, so only unmerged single code points can miss
  // (llama.cpp's `resegment` recursion never finds a reverse merge for them).
  const bytes: number[] = [];
  for (let i = 0; i !== -1; i = next[i] as number) {
    const piece = text.slice(start[i] as number, (start[i] as number) + (len[i] as number));
    const id = vocab.idOf.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    bytes.length = 0;
    pushCodePointUtf8(piece.codePointAt(0) as number, bytes);
    for (const b of bytes) out.push(byteToken(b));
  }
}
