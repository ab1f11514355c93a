import { checkInt } from './check-args.js';

/** How the arena stores K and V: IEEE half floats, or int8 with one f32 scale per (token, kv head). */
export type KvDtype = 'f16' | 'int8';

export interface KvShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  dtype: KvDtype;
}

export interface KvBudget extends KvShape {
  /** Bytes the K/V arena may take, over all layers. */
  budgetBytes: number;
  /** Tokens per block. */
  blockSize: number;
}

/**
 * K/V bytes one token position takes in the arena, over all layers:
 * - f16:  2 (K and V) × numLayers × numKvHeads × headDim × 2 bytes;
 * - int8: 2 (K and V) × numLayers × numKvHeads × (headDim × 1 byte + 4 bytes of f32 scale).
 * E.g. BitNet b1.58 2B-4T (30 layers, 5 kv heads, headDim 128) in f16: 76 800 bytes per token.
 */
export function kvBytesPerToken(shape: KvShape): number {
  if (typeof shape !== 'object' || shape === null) {
    throw new TypeError('shape must be an object { numLayers, numKvHeads, headDim, dtype }');
  }
  const numLayers = checkInt(shape.numLayers, 'numLayers', 1, 0xffff);
  const numKvHeads = checkInt(shape.numKvHeads, 'numKvHeads', 1, 0xffff);
  const headDim = checkInt(shape.headDim, 'headDim', 1, 0xffff);
  let bytesPerHead: number;
  if (shape.dtype === 'f16') bytesPerHead = headDim * 2;
  else if (shape.dtype === 'int8') bytesPerHead = headDim + 4;
  else throw new TypeError(`dtype must be 'f16' or 'int8', got ${String(shape.dtype)}`);
  return 2 * numLayers * numKvHeads * bytesPerHead;
}

/**
 * How many blocks of `blockSize` tokens fit in `budgetBytes`: floor(budgetBytes / (blockSize ×
 * kvBytesPerToken)). May be 0. Covers the native arena only; the bookkeeping itself (a few int32 per block
 * plus one int32 per slot for prefix-cache verification) lives on the JS heap.
 */
export function blocksForBudget(budget: KvBudget): number {
  if (typeof budget !== 'object' || budget === null) {
    throw new TypeError(
      'budget must be an object { budgetBytes, blockSize, numLayers, numKvHeads, headDim, dtype }',
    );
  }
  const budgetBytes = checkInt(budget.budgetBytes, 'budgetBytes', 0, Number.MAX_SAFE_INTEGER);
  const blockSize = checkInt(budget.blockSize, 'blockSize', 1, 0x10000);
  return Math.floor(budgetBytes / (blockSize * kvBytesPerToken(budget)));
}
