import { checkArray, checkFinite, checkInt, clearStatus, type PreparedCall } from './args.js';
import { native } from './native.js';

/**
 * Paged attention over one layer's KV cache (vLLM PagedAttention: Kwon et al., "Efficient Memory Management
 * for Large Language Model Serving with PagedAttention", SOSP 2023).
 *
 * The cache is two f16 arrays (`Uint16Array`, IEEE binary16 bits) allocated once by the caller, each of
 * `kvCacheElements(shape)` elements, cut into `numBlocks` blocks of `blockSize` token positions. A block is
 * contiguous in both arrays (copy-on-write copies one range per array), but the element order inside a
 * block differs, each chosen for the loop that reads it:
 *
 * - `kCache` (numBlocks, nKvHeads, headDim, blockSize): dimension-major, so one dimension of 16 positions
 *   is one vector load and q·K needs no horizontal sums;
 * - `vCache` (numBlocks, nKvHeads, blockSize, headDim): position-major, so p·V adds whole rows.
 *
 * The int8 variant (`kvWriteI8`, `pagedAttentionI8`) keeps the same two layouts as `Int8Array`s plus one
 * f32 scale per (block, KV head, position) for K and for V (`kScales`, `vScales`: (numBlocks, nKvHeads,
 * blockSize), `kvScaleElements(shape)` each): half the bytes for decode attention to stream.
 *
 * A sequence's position `pos` lives in block `blockTable[floor(pos / blockSize)]` at offset
 * `pos % blockSize`; its slot (what `kvWrite` takes) is `block * blockSize + pos % blockSize`.
 *
 * Values that change every step (slots, sequence rows, positions, block ids) are read from their buffers
 * when the kernel runs, so a recorded program can be replayed. Each is range-checked then: a bad one never
 * touches memory out of bounds; its row is skipped (`kvWrite`, `kvCopyBlocks`) or zeroed (`pagedAttention`)
 * and reported:
 * - the sync call throws a RangeError after the run (the other rows are done);
 * - the async call rejects with that RangeError;
 * - in a recorded program nothing throws: pass a `status` Int32Array(2) when recording, and after every
 *   run it holds `[number of bad rows, first bad row or -1]`.
 */
export interface KvCacheShape {
  numBlocks: number;
  blockSize: number;
  nKvHeads: number;
  headDim: number;
}

/** Largest head dimension the kernels accept (their per-head accumulators live on the native stack). */
export const MAX_ATTENTION_HEAD_DIM = 512;

/** Elements of `kCache` (and of `vCache`): numBlocks × blockSize × nKvHeads × headDim. */
export function kvCacheElements(shape: KvCacheShape): number {
  checkCacheShape('kvCacheElements', shape);
  return shape.numBlocks * shape.blockSize * shape.nKvHeads * shape.headDim;
}

/** Elements of each int8 scale array (`kScales`, `vScales`): numBlocks × nKvHeads × blockSize. */
export function kvScaleElements(shape: KvCacheShape): number {
  checkCacheShape('kvScaleElements', shape);
  return shape.numBlocks * shape.nKvHeads * shape.blockSize;
}

/** Index of the scale of (slot, kvHead) in `kScales` / `vScales` of the int8 caches. */
export function kvScaleIndex(shape: KvCacheShape, slot: number, kvHead: number): number {
  const block = Math.floor(slot / shape.blockSize);
  return (block * shape.nKvHeads + kvHead) * shape.blockSize + (slot % shape.blockSize);
}

/** Index of element (slot, kvHead, dim) in `kCache` (dimension-major inside a block). */
export function kCacheIndex(shape: KvCacheShape, slot: number, kvHead: number, dim: number): number {
  const block = Math.floor(slot / shape.blockSize);
  return (
    ((block * shape.nKvHeads + kvHead) * shape.headDim + dim) * shape.blockSize + (slot % shape.blockSize)
  );
}

/** Index of element (slot, kvHead, dim) in `vCache` (position-major inside a block). */
export function vCacheIndex(shape: KvCacheShape, slot: number, kvHead: number, dim: number): number {
  const block = Math.floor(slot / shape.blockSize);
  return (
    ((block * shape.nKvHeads + kvHead) * shape.blockSize + (slot % shape.blockSize)) * shape.headDim + dim
  );
}
// The native functions take the facade's arguments with `status` always passed (a fresh one if the caller
// gave none), so a direct call can report the rows it skipped.
interface AttentionNative {
  kvWrite(...args: Required<Parameters<typeof kvWrite>>): void;
  kvWriteAsync(...args: Required<Parameters<typeof kvWrite>>): Promise<void>;
  kvWriteI8(...args: Required<Parameters<typeof kvWriteI8>>): void;
  kvWriteI8Async(...args: Required<Parameters<typeof kvWriteI8>>): Promise<void>;
  kvCopyBlocks(...args: Required<Parameters<typeof kvCopyBlocks>>): void;
  kvCopyBlocksAsync(...args: Required<Parameters<typeof kvCopyBlocks>>): Promise<void>;
  kvCopyBlocksI8(...args: Required<Parameters<typeof kvCopyBlocksI8>>): void;
  kvCopyBlocksI8Async(...args: Required<Parameters<typeof kvCopyBlocksI8>>): Promise<void>;
  pagedAttention(...args: Required<Parameters<typeof pagedAttention>>): void;
  pagedAttentionAsync(...args: Required<Parameters<typeof pagedAttention>>): Promise<void>;
  pagedAttentionI8(...args: Required<Parameters<typeof pagedAttentionI8>>): void;
  pagedAttentionI8Async(...args: Required<Parameters<typeof pagedAttentionI8>>): Promise<void>;
}
const addon = native as unknown as AttentionNative;

// --- argument checks, one per kernel family, shared by the f16 and int8 caches ----------------------------

function checkCacheShape(fn: string, shape: KvCacheShape): void {
  checkInt(fn, 'numBlocks', shape.numBlocks, 1, 0x7fffffff);
  checkInt(fn, 'blockSize', shape.blockSize, 1, 1 << 16);
  checkInt(fn, 'nKvHeads', shape.nKvHeads, 1, 1 << 12);
  checkInt(fn, 'headDim', shape.headDim, 1, MAX_ATTENTION_HEAD_DIM);
  if (shape.numBlocks * shape.blockSize > 0x7fffffff) {
    throw new RangeError(`${fn}: numBlocks × blockSize must be below 2^31 so every slot fits an Int32`);
  }
}

function checkF16Caches(fn: string, shape: KvCacheShape, kCache: Uint16Array, vCache: Uint16Array): void {
  checkCacheShape(fn, shape);
  const cache = shape.numBlocks * shape.blockSize * shape.nKvHeads * shape.headDim;
  checkArray(fn, 'kCache', kCache, Uint16Array, cache);
  checkArray(fn, 'vCache', vCache, Uint16Array, cache);
}

function checkInt8Caches(
  fn: string,
  shape: KvCacheShape,
  kCache: Int8Array,
  kScales: Float32Array,
  vCache: Int8Array,
  vScales: Float32Array,
): void {
  checkCacheShape(fn, shape);
  const cache = shape.numBlocks * shape.blockSize * shape.nKvHeads * shape.headDim;
  const scales = shape.numBlocks * shape.blockSize * shape.nKvHeads;
  checkArray(fn, 'kCache', kCache, Int8Array, cache);
  checkArray(fn, 'kScales', kScales, Float32Array, scales);
  checkArray(fn, 'vCache', vCache, Int8Array, cache);
  checkArray(fn, 'vScales', vScales, Float32Array, scales);
}

// kvWrite, kvWriteI8: the rows to write and their slots.
function checkKvWriteRows(
  fn: string,
  shape: KvCacheShape,
  k: Float32Array,
  v: Float32Array,
  slots: Int32Array,
  n: number,
): void {
  checkInt(fn, 'n', n, 0, 0x7fffffff);
  checkArray(fn, 'k', k, Float32Array, n * shape.nKvHeads * shape.headDim);
  checkArray(fn, 'v', v, Float32Array, n * shape.nKvHeads * shape.headDim);
  checkArray(fn, 'slots', slots, Int32Array, n);
}

function throwIfSlotsSkipped(fn: string, shape: KvCacheShape, slots: Int32Array, status: Int32Array): void {
  if ((status[0] ?? 0) === 0) return;
  const first = status[1] ?? -1;
  throw new RangeError(
    `${fn}: ${status[0]} slot(s) outside [0, ${shape.numBlocks * shape.blockSize}) were skipped; the first is ` +
      `slots[${first}] = ${slots[first]} (slot = block * blockSize + pos % blockSize)`,
  );
}

// kvCopyBlocks, kvCopyBlocksI8: the (source, destination) block pairs.
function checkCopies(fn: string, copies: Int32Array, n: number): void {
  checkInt(fn, 'n', n, 0, 0x3fffffff);
  checkArray(fn, 'copies', copies, Int32Array, 2 * n);
}

function throwIfCopiesSkipped(fn: string, numBlocks: number, copies: Int32Array, status: Int32Array): void {
  if ((status[0] ?? 0) === 0) return;
  const first = status[1] ?? -1;
  throw new RangeError(
    `${fn}: ${status[0]} copy(ies) with a block id outside [0, ${numBlocks}) were skipped; the first is ` +
      `copy ${first} (${copies[2 * first]} → ${copies[2 * first + 1]})`,
  );
}

// pagedAttention, pagedAttentionI8: the batch, its block tables and the output.
interface AttentionBatch {
  q: Float32Array; // (n, nHeads, headDim)
  nHeads: number;
  blockTables: Int32Array; // (numSeqs, maxBlocksPerSeq)
  maxBlocksPerSeq: number;
  tokenSeq: Int32Array; // (n)
  tokenPos: Int32Array; // (n)
  n: number;
  scale: number;
  out: Float32Array; // (n, nHeads, headDim)
}

function checkBatch(fn: string, shape: KvCacheShape, b: AttentionBatch): void {
  checkInt(fn, 'nHeads', b.nHeads, 1, 1 << 12);
  if (b.nHeads % shape.nKvHeads !== 0)
    throw new RangeError(`${fn}: nHeads (${b.nHeads}) must be a multiple of nKvHeads (${shape.nKvHeads})`);
  checkInt(fn, 'maxBlocksPerSeq', b.maxBlocksPerSeq, 1, 0x7fffffff);
  checkInt(fn, 'n', b.n, 0, 0x7fffffff);
  checkFinite(fn, 'scale', b.scale);
  checkArray(fn, 'q', b.q, Float32Array, b.n * b.nHeads * shape.headDim);
  checkArray(fn, 'blockTables', b.blockTables, Int32Array, b.maxBlocksPerSeq);
  checkArray(fn, 'tokenSeq', b.tokenSeq, Int32Array, b.n);
  checkArray(fn, 'tokenPos', b.tokenPos, Int32Array, b.n);
  checkArray(fn, 'out', b.out, Float32Array, b.n * b.nHeads * shape.headDim);
}

// The batch arguments as the native call takes them, after the caches and dimensions.
function batchArgs(b: AttentionBatch, status: Int32Array) {
  return [b.blockTables, b.maxBlocksPerSeq, b.tokenSeq, b.tokenPos, b.n, b.scale, b.out, status] as const;
}

function throwIfTokensZeroed(fn: string, shape: KvCacheShape, b: AttentionBatch, status: Int32Array): void {
  if ((status[0] ?? 0) === 0) return;
  const first = status[1] ?? -1;
  const numSeqs = Math.floor(b.blockTables.length / b.maxBlocksPerSeq);
  throw new RangeError(
    `${fn}: ${status[0]} token(s) had an out-of-range sequence row, position or block id and got ` +
      `zero output; the first is token ${first} (tokenSeq = ${b.tokenSeq[first]} of ${numSeqs} rows, tokenPos = ` +
      `${b.tokenPos[first]} of at most ${b.maxBlocksPerSeq * shape.blockSize}, block ids must be in [0, ${shape.numBlocks}))`,
  );
}

// --- f16 caches -------------------------------------------------------------------------------------------

function checkKvWrite(args: Parameters<typeof kvWrite>): PreparedCall<Required<Parameters<typeof kvWrite>>> {
  const [kCache, vCache, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, status] = args;
  const fn = 'kvWrite';
  const shape = { numBlocks, blockSize, nKvHeads, headDim };
  checkF16Caches(fn, shape, kCache, vCache);
  checkKvWriteRows(fn, shape, k, v, slots, n);
  const s = clearStatus(fn, status);
  return {
    args: [kCache, vCache, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, s],
    finish: () => throwIfSlotsSkipped(fn, shape, slots, s),
  };
}

/**
 * Writes the K and V rows of `n` tokens into their slots, converting f32 to f16 (round to nearest even, as
 * vcvtps2ph and llama.cpp's F16 cache do). Token i goes to slot `slots[i]`.
 *
 * @param kCache (numBlocks, nKvHeads, headDim, blockSize) f16
 * @param vCache (numBlocks, nKvHeads, blockSize, headDim) f16
 * @param k (n, nKvHeads, headDim)
 * @param v (n, nKvHeads, headDim)
 * @param slots (n) read when the kernel runs; an out-of-range slot skips its token (see the module doc)
 * @param status optional (2): `[skipped tokens, first skipped token or -1]`, written on every run
 * @throws RangeError after the run if a slot was out of range (not while recording a program)
 */
export function kvWrite(
  kCache: Uint16Array,
  vCache: Uint16Array,
  numBlocks: number,
  blockSize: number,
  nKvHeads: number,
  headDim: number,
  k: Float32Array,
  v: Float32Array,
  slots: Int32Array,
  n: number,
  status?: Int32Array,
): void {
  const caches = [kCache, vCache] as const;
  const call = checkKvWrite([...caches, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, status]);
  addon.kvWrite(...call.args);
  call.finish();
}

/** `kvWrite` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function kvWriteAsync(...args: Parameters<typeof kvWrite>): Promise<void> {
  const call = checkKvWrite(args);
  await addon.kvWriteAsync(...call.args);
  call.finish();
}

function checkKvCopyBlocks(
  args: Parameters<typeof kvCopyBlocks>,
): PreparedCall<Required<Parameters<typeof kvCopyBlocks>>> {
  const [kCache, vCache, numBlocks, blockSize, nKvHeads, headDim, copies, n, status] = args;
  const fn = 'kvCopyBlocks';
  checkF16Caches(fn, { numBlocks, blockSize, nKvHeads, headDim }, kCache, vCache);
  checkCopies(fn, copies, n);
  const s = clearStatus(fn, status);
  return {
    args: [kCache, vCache, numBlocks, blockSize, nKvHeads, headDim, copies, n, s],
    finish: () => throwIfCopiesSkipped(fn, numBlocks, copies, s),
  };
}

/**
 * Copies whole blocks of both caches (copy-on-write before a sequence appends into a block it shares):
 * copy i duplicates block `copies[2i]` into block `copies[2i + 1]`, in order. Block ids are read when the
 * kernel runs; a copy naming a block outside [0, numBlocks) is skipped and reported like a bad slot.
 *
 * @param kCache (numBlocks, nKvHeads, headDim, blockSize) f16
 * @param vCache (numBlocks, nKvHeads, blockSize, headDim) f16
 * @param copies (n, 2) [source block, destination block]
 * @param status optional (2): `[skipped copies, first skipped copy or -1]`, written on every run
 * @throws RangeError after the run if a block id was out of range (not while recording a program)
 */
export function kvCopyBlocks(
  kCache: Uint16Array,
  vCache: Uint16Array,
  numBlocks: number,
  blockSize: number,
  nKvHeads: number,
  headDim: number,
  copies: Int32Array,
  n: number,
  status?: Int32Array,
): void {
  const caches = [kCache, vCache] as const;
  const call = checkKvCopyBlocks([...caches, numBlocks, blockSize, nKvHeads, headDim, copies, n, status]);
  addon.kvCopyBlocks(...call.args);
  call.finish();
}

/** `kvCopyBlocks` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function kvCopyBlocksAsync(...args: Parameters<typeof kvCopyBlocks>): Promise<void> {
  const call = checkKvCopyBlocks(args);
  await addon.kvCopyBlocksAsync(...call.args);
  call.finish();
}

function checkPagedAttention(
  args: Parameters<typeof pagedAttention>,
): PreparedCall<Required<Parameters<typeof pagedAttention>>> {
  const [q, kCache, vCache, numBlocks, blockSize, nHeads, nKvHeads, headDim, ...rest] = args;
  const [blockTables, maxBlocksPerSeq, tokenSeq, tokenPos, n, scale, out, status, f16Probs = false] = rest;
  const fn = 'pagedAttention';
  const shape = { numBlocks, blockSize, nKvHeads, headDim };
  const batch = { q, nHeads, blockTables, maxBlocksPerSeq, tokenSeq, tokenPos, n, scale, out };
  checkF16Caches(fn, shape, kCache, vCache);
  checkBatch(fn, shape, batch);
  if (typeof f16Probs !== 'boolean') throw new TypeError(`${fn}: f16Probs must be a boolean`);
  const s = clearStatus(fn, status);
  return {
    args: [
      q,
      kCache,
      vCache,
      numBlocks,
      blockSize,
      nHeads,
      nKvHeads,
      headDim,
      ...batchArgs(batch, s),
      f16Probs,
    ],
    finish: () => throwIfTokensZeroed(fn, shape, batch, s),
  };
}

/**
 * Attention of `n` tokens over their sequences' cached K/V: `out = softmax(scale · q·Kᵀ) · V` per query
 * head, in f32 with f16 K/V. Token i reads row `tokenSeq[i]` of `blockTables` and attends to positions
 * `0..tokenPos[i]` of that sequence (causal: in a prefill chunk write the chunk's K/V with `kvWrite` first).
 * GQA: query head h uses KV head `floor(h / (nHeads / nKvHeads))`. Runs on the native thread pool.
 *
 * @param q (n, nHeads, headDim)
 * @param kCache (numBlocks, nKvHeads, headDim, blockSize) f16
 * @param vCache (numBlocks, nKvHeads, blockSize, headDim) f16
 * @param blockTables (numSeqs, maxBlocksPerSeq) block ids; numSeqs = floor(length / maxBlocksPerSeq)
 * @param tokenSeq (n) row of `blockTables` for each token, read when the kernel runs
 * @param tokenPos (n) absolute position of each token, read when the kernel runs
 * @param out (n, nHeads, headDim); must not overlap q or the caches
 * @param status optional (2): `[bad tokens, first bad token or -1]`, written on every run
 * @param f16Probs reproduce llama.cpp's CPU rounding: normalise the softmax probabilities and round them to
 *   f16 before p·V (its non-flash path multiplies them by the f16 V cache). A scalar two-pass kernel, for
 *   comparisons with llama.cpp; round q to f16 first (`roundToF16`) for its Q rounding too.
 * @throws RangeError after the run if a token had an out-of-range row, position or block id (its output
 *   rows are zero; not while recording a program)
 */
export function pagedAttention(
  q: Float32Array,
  kCache: Uint16Array,
  vCache: Uint16Array,
  numBlocks: number,
  blockSize: number,
  nHeads: number,
  nKvHeads: number,
  headDim: number,
  blockTables: Int32Array,
  maxBlocksPerSeq: number,
  tokenSeq: Int32Array,
  tokenPos: Int32Array,
  n: number,
  scale: number,
  out: Float32Array,
  status?: Int32Array,
  f16Probs = false,
): void {
  const dims = [numBlocks, blockSize, nHeads, nKvHeads, headDim] as const;
  const batch = [blockTables, maxBlocksPerSeq, tokenSeq, tokenPos, n, scale, out, status] as const;
  const call = checkPagedAttention([q, kCache, vCache, ...dims, ...batch, f16Probs]);
  addon.pagedAttention(...call.args);
  call.finish();
}

/** `pagedAttention` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function pagedAttentionAsync(...args: Parameters<typeof pagedAttention>): Promise<void> {
  const call = checkPagedAttention(args);
  await addon.pagedAttentionAsync(...call.args);
  call.finish();
}

// --- int8 caches -----------------------------------------------------------------------------------------

function checkKvWriteI8(
  args: Parameters<typeof kvWriteI8>,
): PreparedCall<Required<Parameters<typeof kvWriteI8>>> {
  const [kCache, kScales, vCache, vScales, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, status] =
    args;
  const fn = 'kvWriteI8';
  const shape = { numBlocks, blockSize, nKvHeads, headDim };
  checkInt8Caches(fn, shape, kCache, kScales, vCache, vScales);
  checkKvWriteRows(fn, shape, k, v, slots, n);
  const s = clearStatus(fn, status);
  return {
    args: [kCache, kScales, vCache, vScales, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, s],
    finish: () => throwIfSlotsSkipped(fn, shape, slots, s),
  };
}

/**
 * `kvWrite` for int8 caches: each (token, KV head) row of K and of V is stored as int8 with one f32 scale,
 * `scale = max|row| / 127`, `int8 = round-to-nearest-even(x · 127 / max|row|)` clamped to ±127 (NaN → 0).
 * Half the bytes of f16 for attention to stream, at ~0.4% of the row's largest value as the worst error.
 *
 * @param kCache (numBlocks, nKvHeads, headDim, blockSize) int8
 * @param kScales (numBlocks, nKvHeads, blockSize)
 * @param vCache (numBlocks, nKvHeads, blockSize, headDim) int8
 * @param vScales (numBlocks, nKvHeads, blockSize)
 * @param k (n, nKvHeads, headDim)
 * @param v (n, nKvHeads, headDim)
 * @param slots (n) read when the kernel runs, as in `kvWrite`
 * @param status optional (2), as in `kvWrite`
 * @throws RangeError after the run if a slot was out of range (not while recording a program)
 */
export function kvWriteI8(
  kCache: Int8Array,
  kScales: Float32Array,
  vCache: Int8Array,
  vScales: Float32Array,
  numBlocks: number,
  blockSize: number,
  nKvHeads: number,
  headDim: number,
  k: Float32Array,
  v: Float32Array,
  slots: Int32Array,
  n: number,
  status?: Int32Array,
): void {
  const caches = [kCache, kScales, vCache, vScales] as const;
  const call = checkKvWriteI8([...caches, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, status]);
  addon.kvWriteI8(...call.args);
  call.finish();
}

/** `kvWriteI8` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function kvWriteI8Async(...args: Parameters<typeof kvWriteI8>): Promise<void> {
  const call = checkKvWriteI8(args);
  await addon.kvWriteI8Async(...call.args);
  call.finish();
}

function checkPagedAttentionI8(
  args: Parameters<typeof pagedAttentionI8>,
): PreparedCall<Required<Parameters<typeof pagedAttentionI8>>> {
  const [q, kCache, kScales, vCache, vScales, numBlocks, blockSize, nHeads, nKvHeads, headDim, ...rest] =
    args;
  const [blockTables, maxBlocksPerSeq, tokenSeq, tokenPos, n, scale, out, status] = rest;
  const fn = 'pagedAttentionI8';
  const shape = { numBlocks, blockSize, nKvHeads, headDim };
  const batch = { q, nHeads, blockTables, maxBlocksPerSeq, tokenSeq, tokenPos, n, scale, out };
  checkInt8Caches(fn, shape, kCache, kScales, vCache, vScales);
  checkBatch(fn, shape, batch);
  const s = clearStatus(fn, status);
  const caches = [kCache, kScales, vCache, vScales] as const;
  return {
    args: [q, ...caches, numBlocks, blockSize, nHeads, nKvHeads, headDim, ...batchArgs(batch, s)],
    finish: () => throwIfTokensZeroed(fn, shape, batch, s),
  };
}

/**
 * `pagedAttention` over int8 caches written by `kvWriteI8`: scores use `k = int8 · kScale`, the output
 * `v = int8 · vScale` (the scales fold into the score and the probability, so the inner loops stay
 * int8 → f32 conversions and FMAs). Same batch arguments, checks and error reporting as `pagedAttention`.
 *
 * @param q (n, nHeads, headDim)
 * @param kCache (numBlocks, nKvHeads, headDim, blockSize) int8
 * @param kScales (numBlocks, nKvHeads, blockSize)
 * @param vCache (numBlocks, nKvHeads, blockSize, headDim) int8
 * @param vScales (numBlocks, nKvHeads, blockSize)
 * @param blockTables (numSeqs, maxBlocksPerSeq) block ids, as in `pagedAttention`
 * @param tokenSeq (n), as in `pagedAttention`
 * @param tokenPos (n), as in `pagedAttention`
 * @param out (n, nHeads, headDim)
 * @param status optional (2), as in `pagedAttention`
 */
export function pagedAttentionI8(
  q: Float32Array,
  kCache: Int8Array,
  kScales: Float32Array,
  vCache: Int8Array,
  vScales: Float32Array,
  numBlocks: number,
  blockSize: number,
  nHeads: number,
  nKvHeads: number,
  headDim: number,
  blockTables: Int32Array,
  maxBlocksPerSeq: number,
  tokenSeq: Int32Array,
  tokenPos: Int32Array,
  n: number,
  scale: number,
  out: Float32Array,
  status?: Int32Array,
): void {
  const caches = [kCache, kScales, vCache, vScales] as const;
  const dims = [numBlocks, blockSize, nHeads, nKvHeads, headDim] as const;
  const batch = [blockTables, maxBlocksPerSeq, tokenSeq, tokenPos, n, scale, out, status] as const;
  const call = checkPagedAttentionI8([q, ...caches, ...dims, ...batch]);
  addon.pagedAttentionI8(...call.args);
  call.finish();
}

/** `pagedAttentionI8` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function pagedAttentionI8Async(...args: Parameters<typeof pagedAttentionI8>): Promise<void> {
  const call = checkPagedAttentionI8(args);
  await addon.pagedAttentionI8Async(...call.args);
  call.finish();
}

function checkKvCopyBlocksI8(
  args: Parameters<typeof kvCopyBlocksI8>,
): PreparedCall<Required<Parameters<typeof kvCopyBlocksI8>>> {
  const [kCache, kScales, vCache, vScales, numBlocks, blockSize, nKvHeads, headDim, copies, n, status] = args;
  const fn = 'kvCopyBlocksI8';
  checkInt8Caches(fn, { numBlocks, blockSize, nKvHeads, headDim }, kCache, kScales, vCache, vScales);
  checkCopies(fn, copies, n);
  const s = clearStatus(fn, status);
  return {
    args: [kCache, kScales, vCache, vScales, numBlocks, blockSize, nKvHeads, headDim, copies, n, s],
    finish: () => throwIfCopiesSkipped(fn, numBlocks, copies, s),
  };
}

/**
 * `kvCopyBlocks` for int8 caches: copies the blocks of K, its scales, V and its scales.
 *
 * @param kCache (numBlocks, nKvHeads, headDim, blockSize) int8
 * @param kScales (numBlocks, nKvHeads, blockSize)
 * @param vCache (numBlocks, nKvHeads, blockSize, headDim) int8
 * @param vScales (numBlocks, nKvHeads, blockSize)
 * @param copies (n, 2) [source block, destination block]
 * @param status optional (2), as in `kvCopyBlocks`
 */
export function kvCopyBlocksI8(
  kCache: Int8Array,
  kScales: Float32Array,
  vCache: Int8Array,
  vScales: Float32Array,
  numBlocks: number,
  blockSize: number,
  nKvHeads: number,
  headDim: number,
  copies: Int32Array,
  n: number,
  status?: Int32Array,
): void {
  const caches = [kCache, kScales, vCache, vScales] as const;
  const call = checkKvCopyBlocksI8([...caches, numBlocks, blockSize, nKvHeads, headDim, copies, n, status]);
  addon.kvCopyBlocksI8(...call.args);
  call.finish();
}

/** `kvCopyBlocksI8` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function kvCopyBlocksI8Async(...args: Parameters<typeof kvCopyBlocksI8>): Promise<void> {
  const call = checkKvCopyBlocksI8(args);
  await addon.kvCopyBlocksI8Async(...call.args);
  call.finish();
}
