import { BinaryHeap } from './binary-heap.js';
import { bytesToByteLevel } from './byte-unicode.js';
import { mergeSymbols } from './symbol-merge.js';
import { utf8Encode } from './utf8.js';
import type { Vocab } from './vocab.js';

/** Merge ranks keyed `"left right"`; parsed like llama.cpp (split at the first space after position 0). */
export function buildMergeRanks(merges: readonly string[]): Map<string, number> {
  const ranks = new Map<string, number>();
  merges.forEach((merge, rank) => {
    const pos = merge.indexOf(' ', 1);
    const key = pos === -1 ? ' ' : merge;
    if (!ranks.has(key)) ranks.set(key, rank);
  });
  return ranks;
}

interface Bigram {
  left: number;
  right: number;
  rank: number;
  size: number;
}

// Lowest rank first; among equal ranks the leftmost pair (llama.cpp `llm_bigram_bpe::comparator`).
const bigramBefore = (a: Bigram, b: Bigram) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

/**
 * Byte-level BPE of pre-tokenized words, as llama.cpp's `llm_tokenizer_bpe_session::tokenize`: each word
 * is UTF-8 encoded and written in GPT-2's byte alphabet; with `ignoreMerges` (llama-3) a word that is
 * itself a token is emitted whole; otherwise adjacent symbols are merged lowest rank first. Appends to `out`.
 */
export function bpeTokenize(
  vocab: Vocab,
  ranks: ReadonlyMap<string, number>,
  ignoreMerges: boolean,
  words: readonly string[],
  out: number[],
): void {
  for (const word of words) {
    const text = bytesToByteLevel(utf8Encode(word));
    if (ignoreMerges) {
      const whole = vocab.idOf.get(text);
      if (whole !== undefined) {
        out.push(whole);
        continue;
      }
    }
    // Symbols are characters of the byte-level string (all below U+0200, one UTF-16 unit each). (n_symbols)
    const n = text.length;
    const len = new Array<number>(n).fill(1);
    const prev = Array.from({ length: n }, (_, i) => i - 1);
    const next = Array.from({ length: n }, (_, i) => (i + 1 === n ? -1 : i + 1));

    const queue = new BinaryHeap<Bigram>(bigramBefore);
    const addBigram = (left: number, right: number) => {
      if (left === -1 || right === -1) return;
      const l = len[left] as number;
      const r = len[right] as number;
      const rank = ranks.get(`${text.slice(left, left + l)} ${text.slice(right, right + r)}`);
      if (rank !== undefined) queue.push({ left, right, rank, size: l + r });
    };
    for (let i = 1; i < n; i++) addBigram(i - 1, i);

    mergeSymbols(queue, len, prev, next, addBigram);

    for (let i = 0; i !== -1 && n > 0; i = next[i] as number) {
      const piece = text.slice(i, i + (len[i] as number));
      const id = vocab.idOf.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      // llama.cpp falls back to one token per UTF-8 byte of the piece and silently drops bytes it cannot
      // find; only ASCII stand-ins can match a single byte.
      for (const b of utf8Encode(piece)) {
        const byteId = b < 0x80 ? vocab.idOf.get(String.fromCharCode(b)) : undefined;
        if (byteId !== undefined) out.push(byteId);
      }
    }
  }
}
