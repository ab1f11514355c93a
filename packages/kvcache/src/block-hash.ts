/**
 * Chained hash of full KV blocks for prefix caching (vLLM v1 `hash_block_tokens`): the hash of block i is
 * h_i = H(h_{i-1}, tokens of block i), so equal hashes mean equal whole prefixes, not just equal blocks.
 *
 * H is a fast non-cryptographic 64-bit hash built from two independent 32-bit lanes over the token ids as
 * 32-bit words, both seeded with the full 64-bit parent hash:
 * - lane "hi" uses MurmurHash3_x86_32's body and finaliser (Appleby, 2011);
 * - lane "lo" uses xxHash32's round and avalanche (Collet, 2012).
 *
 * Collision risk: for random inputs two different prefixes share a hash with probability about 2^-64 (less
 * in practice: the lanes are not perfectly independent), and anyone who can choose prompts can construct
 * collisions on purpose. So a hash match is only a candidate: the prefix cache stores the tokens of every
 * cached block and the identity of its parent block and verifies both on a hit (see prefix-cache-index.ts);
 * a collision can cost a cache hit, never give wrong K/V.
 */
export type BlockHasher = (
  parentHi: number,
  parentLo: number,
  tokens: ArrayLike<number>,
  offset: number,
  count: number,
  /** (2) receives [hi, lo] as unsigned 32-bit values. */
  out: Uint32Array,
) => void;

/** The "parent hash" of the first block of every sequence. */
export const ROOT_HASH_HI = 0x243f6a88;
export const ROOT_HASH_LO = 0x85a308d3;

const M1 = 0xcc9e2d51;
const M2 = 0x1b873593;
const X1 = 0x9e3779b1;
const X2 = 0x85ebca77;
const X3 = 0xc2b2ae3d;
const X5 = 0x165667b1;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

function murmurMix(h: number, word: number): number {
  let k = Math.imul(word, M1);
  k = rotl(k, 15);
  k = Math.imul(k, M2);
  h ^= k;
  h = rotl(h, 13);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function murmurFinal(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function xxRound(acc: number, word: number): number {
  acc = (acc + Math.imul(word, X2)) | 0;
  return Math.imul(rotl(acc, 13), X1);
}

function xxFinal(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, X2);
  h ^= h >>> 13;
  h = Math.imul(h, X3);
  return h ^ (h >>> 16);
}

/** The default {@link BlockHasher}. Token ids are taken as 32-bit integers. */
export const hashBlockTokens: BlockHasher = (parentHi, parentLo, tokens, offset, count, out) => {
  let hi = murmurMix(parentHi | 0, parentLo | 0);
  let lo = xxRound((parentLo + X5) | 0, parentHi | 0);
  for (let i = offset, end = offset + count; i < end; i++) {
    const word = tokens[i]! | 0;
    hi = murmurMix(hi, word);
    lo = xxRound(lo, word);
  }
  out[0] = murmurFinal(hi ^ count);
  out[1] = xxFinal(lo ^ Math.imul(count, 4));
};
