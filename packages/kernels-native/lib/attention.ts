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
  checkCacheShape('kvCacheElements', shape.numBlocks, shape.blockSize, shape.nKvHeads, shape.headDim);
  return shape.numBlocks * shape.blockSize * shape.nKvHeads * shape.headDim;
}

/** Elements of each int8 scale array (`kScales`, `vScales`): numBlocks × nKvHeads × blockSize. */
export function kvScaleElements(shape: KvCacheShape): number {
  checkCacheShape('kvScaleElements', shape.numBlocks, shape.blockSize, shape.nKvHeads, shape.headDim);
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

type KvWriteArgs = [
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
  status: Int32Array,
];
type PagedAttentionArgs = [
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
  status: Int32Array,
];

type KvCopyBlocksArgs = [
  kCache: Uint16Array,
  vCache: Uint16Array,
  numBlocks: number,
  blockSize: number,
  nKvHeads: number,
  headDim: number,
  copies: Int32Array,
  n: number,
  status: Int32Array,
];

type KvWriteI8Args = [
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
  status: Int32Array,
];
type PagedAttentionI8Args = [
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
  status: Int32Array,
];

type KvCopyBlocksI8Args = [
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
  status: Int32Array,
];

interface AttentionNative {
  kvCopyBlocks(...args: KvCopyBlocksArgs): void;
  kvCopyBlocksAsync(...args: KvCopyBlocksArgs): Promise<void>;
  kvCopyBlocksI8(...args: KvCopyBlocksI8Args): void;
  kvCopyBlocksI8Async(...args: KvCopyBlocksI8Args): Promise<void>;
  kvWrite(...args: KvWriteArgs): void;
  kvWriteAsync(...args: KvWriteArgs): Promise<void>;
  pagedAttention(...args: PagedAttentionArgs): void;
  pagedAttentionAsync(...args: PagedAttentionArgs): Promise<void>;
  kvWriteI8(...args: KvWriteI8Args): void;
  kvWriteI8Async(...args: KvWriteI8Args): Promise<void>;
  pagedAttentionI8(...args: PagedAttentionI8Args): void;
  pagedAttentionI8Async(...args: PagedAttentionI8Args): Promise<void>;
}
const addon = native as unknown as AttentionNative;

function checkInt(fn: string, name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value))
    throw new TypeError(`${fn}: ${name} must be an integer, got ${String(value)}`);
  if (value < min || value > max)
    throw new RangeError(`${fn}: ${name} must be in [${min}, ${max}], got ${value}`);
}

const arrayTypes = { Float32Array, Uint16Array, Int32Array, Int8Array };

function checkArray(
  fn: string,
  name: string,
  value: unknown,
  type: keyof typeof arrayTypes,
  min: number,
): void {
  if (!(value instanceof arrayTypes[type]))
    throw new TypeError(`${fn}: ${name} must be ${type.startsWith('Int') ? 'an' : 'a'} ${type}`);
  if (value.length < min)
    throw new RangeError(`${fn}: ${name} has ${value.length} elements, at least ${min} are needed`);
}

function checkCacheShape(
  fn: string,
  numBlocks: number,
  blockSize: number,
  nKvHeads: number,
  headDim: number,
): void {
  checkInt(fn, 'numBlocks', numBlocks, 1, 0x7fffffff);
  checkInt(fn, 'blockSize', blockSize, 1, 1 << 16);
  checkInt(fn, 'nKvHeads', nKvHeads, 1, 1 << 12);
  checkInt(fn, 'headDim', headDim, 1, MAX_ATTENTION_HEAD_DIM);
  if (numBlocks * blockSize > 0x7fffffff) {
    throw new RangeError(`${fn}: numBlocks × blockSize must be below 2^31 so every slot fits an Int32`);
  }
}

function resetStatus(fn: string, status: Int32Array | undefined): Int32Array {
  if (status === undefined) return new Int32Array(2);
  checkArray(fn, 'status', status, 'Int32Array', 2);
  status[0] = 0;
  status[1] = -1;
  return status;
}

function checkKvWrite(args: Parameters<typeof kvWrite>): KvWriteArgs {
  const [kCache, vCache, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, status] = args;
  const fn = 'kvWrite';
  checkCacheShape(fn, numBlocks, blockSize, nKvHeads, headDim);
  checkInt(fn, 'n', n, 0, 0x7fffffff);
  const cache = numBlocks * blockSize * nKvHeads * headDim;
  checkArray(fn, 'kCache', kCache, 'Uint16Array', cache);
  checkArray(fn, 'vCache', vCache, 'Uint16Array', cache);
  checkArray(fn, 'k', k, 'Float32Array', n * nKvHeads * headDim);
  checkArray(fn, 'v', v, 'Float32Array', n * nKvHeads * headDim);
  checkArray(fn, 'slots', slots, 'Int32Array', n);
  return [kCache, vCache, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, resetStatus(fn, status)];
}

function kvWriteError(
  fn: string,
  numBlocks: number,
  blockSize: number,
  slots: Int32Array,
  status: Int32Array,
): RangeError | undefined {
  if ((status[0] ?? 0) === 0) return undefined;
  const first = status[1] ?? -1;
  return new RangeError(
    `${fn}: ${status[0]} slot(s) outside [0, ${numBlocks * blockSize}) were skipped; the first is ` +
      `slots[${first}] = ${slots[first]} (slot = block * blockSize + pos % blockSize)`,
  );
}

function kvWriteF16Error(args: KvWriteArgs): RangeError | undefined {
  const [, , numBlocks, blockSize, , , , , slots, , status] = args;
  return kvWriteError('kvWrite', numBlocks, blockSize, slots, status);
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
  const args = checkKvWrite([
    kCache,
    vCache,
    numBlocks,
    blockSize,
    nKvHeads,
    headDim,
    k,
    v,
    slots,
    n,
    status,
  ]);
  addon.kvWrite(...args);
  const error = kvWriteF16Error(args);
  if (error) throw error;
}

/** `kvWrite` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function kvWriteAsync(...args: Parameters<typeof kvWrite>): Promise<void> {
  const checked = checkKvWrite(args);
  await addon.kvWriteAsync(...checked);
  const error = kvWriteF16Error(checked);
  if (error) throw error;
}

function checkKvCopyBlocks(args: Parameters<typeof kvCopyBlocks>): KvCopyBlocksArgs {
  const [kCache, vCache, numBlocks, blockSize, nKvHeads, headDim, copies, n, status] = args;
  const fn = 'kvCopyBlocks';
  checkCacheShape(fn, numBlocks, blockSize, nKvHeads, headDim);
  checkInt(fn, 'n', n, 0, 0x3fffffff);
  const cache = numBlocks * blockSize * nKvHeads * headDim;
  checkArray(fn, 'kCache', kCache, 'Uint16Array', cache);
  checkArray(fn, 'vCache', vCache, 'Uint16Array', cache);
  checkArray(fn, 'copies', copies, 'Int32Array', 2 * n);
  return [kCache, vCache, numBlocks, blockSize, nKvHeads, headDim, copies, n, resetStatus(fn, status)];
}

function kvCopyBlocksError(
  fn: string,
  numBlocks: number,
  copies: Int32Array,
  status: Int32Array,
): RangeError | undefined {
  if ((status[0] ?? 0) === 0) return undefined;
  const first = status[1] ?? -1;
  return new RangeError(
    `${fn}: ${status[0]} copy(ies) with a block id outside [0, ${numBlocks}) were skipped; the first is ` +
      `copy ${first} (${copies[2 * first]} → ${copies[2 * first + 1]})`,
  );
}

function kvCopyBlocksF16Error(args: KvCopyBlocksArgs): RangeError | undefined {
  const [, , numBlocks, , , , copies, , status] = args;
  return kvCopyBlocksError('kvCopyBlocks', numBlocks, copies, status);
}

/**
 * Copies whole blocks of both caches (copy-on-write before a sequence appends into a block it shares):
 * copy i duplicates block `copies[2i]` into block `copies[2i + 1]`, in order. Block ids are read when the
 * kernel runs; a copy naming a block outside [0, numBlocks) is skipped and reported like a bad slot.
 *
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
  const args = checkKvCopyBlocks([
    kCache,
    vCache,
    numBlocks,
    blockSize,
    nKvHeads,
    headDim,
    copies,
    n,
    status,
  ]);
  addon.kvCopyBlocks(...args);
  const error = kvCopyBlocksF16Error(args);
  if (error) throw error;
}

/** `kvCopyBlocks` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function kvCopyBlocksAsync(...args: Parameters<typeof kvCopyBlocks>): Promise<void> {
  const checked = checkKvCopyBlocks(args);
  await addon.kvCopyBlocksAsync(...checked);
  const error = kvCopyBlocksF16Error(checked);
  if (error) throw error;
}

// The arguments both cache formats share: the batch, its block tables and the output.
function checkBatch(
  fn: string,
  q: Float32Array,
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
): void {
  checkInt(fn, 'nHeads', nHeads, 1, 1 << 12);
  if (nHeads % nKvHeads !== 0)
    throw new RangeError(`${fn}: nHeads (${nHeads}) must be a multiple of nKvHeads (${nKvHeads})`);
  checkInt(fn, 'maxBlocksPerSeq', maxBlocksPerSeq, 1, 0x7fffffff);
  checkInt(fn, 'n', n, 0, 0x7fffffff);
  if (typeof scale !== 'number' || !Number.isFinite(scale))
    throw new TypeError(`${fn}: scale must be a finite number, got ${String(scale)}`);
  checkArray(fn, 'q', q, 'Float32Array', n * nHeads * headDim);
  checkArray(fn, 'blockTables', blockTables, 'Int32Array', maxBlocksPerSeq);
  checkArray(fn, 'tokenSeq', tokenSeq, 'Int32Array', n);
  checkArray(fn, 'tokenPos', tokenPos, 'Int32Array', n);
  checkArray(fn, 'out', out, 'Float32Array', n * nHeads * headDim);
}

function checkPagedAttention(args: Parameters<typeof pagedAttention>): PagedAttentionArgs {
  const [q, kCache, vCache, numBlocks, blockSize, nHeads, nKvHeads, headDim, ...rest] = args;
  const [blockTables, maxBlocksPerSeq, tokenSeq, tokenPos, n, scale, out, status] = rest;
  const fn = 'pagedAttention';
  checkCacheShape(fn, numBlocks, blockSize, nKvHeads, headDim);
  checkBatch(
    fn,
    q,
    nHeads,
    nKvHeads,
    headDim,
    blockTables,
    maxBlocksPerSeq,
    tokenSeq,
    tokenPos,
    n,
    scale,
    out,
  );
  const cache = numBlocks * blockSize * nKvHeads * headDim;
  checkArray(fn, 'kCache', kCache, 'Uint16Array', cache);
  checkArray(fn, 'vCache', vCache, 'Uint16Array', cache);
  return [
    q,
    kCache,
    vCache,
    numBlocks,
    blockSize,
    nHeads,
    nKvHeads,
    headDim,
    blockTables,
    maxBlocksPerSeq,
    tokenSeq,
    tokenPos,
    n,
    scale,
    out,
    resetStatus(fn, status),
  ];
}

interface BatchReport {
  fn: string;
  numBlocks: number;
  blockSize: number;
  blockTables: Int32Array;
  maxBlocksPerSeq: number;
  tokenSeq: Int32Array;
  tokenPos: Int32Array;
  status: Int32Array;
}

function pagedAttentionError(r: BatchReport): RangeError | undefined {
  if ((r.status[0] ?? 0) === 0) return undefined;
  const first = r.status[1] ?? -1;
  const numSeqs = Math.floor(r.blockTables.length / r.maxBlocksPerSeq);
  return new RangeError(
    `${r.fn}: ${r.status[0]} token(s) had an out-of-range sequence row, position or block id and got ` +
      `zero output; the first is token ${first} (tokenSeq = ${r.tokenSeq[first]} of ${numSeqs} rows, tokenPos = ` +
      `${r.tokenPos[first]} of at most ${r.maxBlocksPerSeq * r.blockSize}, block ids must be in [0, ${r.numBlocks}))`,
  );
}

function reportF16(args: PagedAttentionArgs): BatchReport {
  const [, , , numBlocks, blockSize, , , , blockTables, maxBlocksPerSeq, tokenSeq, tokenPos, , , , status] =
    args;
  return {
    fn: 'pagedAttention',
    numBlocks,
    blockSize,
    blockTables,
    maxBlocksPerSeq,
    tokenSeq,
    tokenPos,
    status,
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
): void {
  const args = checkPagedAttention([
    q,
    kCache,
    vCache,
    numBlocks,
    blockSize,
    nHeads,
    nKvHeads,
    headDim,
    blockTables,
    maxBlocksPerSeq,
    tokenSeq,
    tokenPos,
    n,
    scale,
    out,
    status,
  ]);
  addon.pagedAttention(...args);
  const error = pagedAttentionError(reportF16(args));
  if (error) throw error;
}

/** `pagedAttention` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function pagedAttentionAsync(...args: Parameters<typeof pagedAttention>): Promise<void> {
  const checked = checkPagedAttention(args);
  await addon.pagedAttentionAsync(...checked);
  const error = pagedAttentionError(reportF16(checked));
  if (error) throw error;
}

// --- int8 caches -----------------------------------------------------------------------------------------

function checkInt8Caches(
  fn: string,
  shape: KvCacheShape,
  kCache: Int8Array,
  kScales: Float32Array,
  vCache: Int8Array,
  vScales: Float32Array,
): void {
  checkCacheShape(fn, shape.numBlocks, shape.blockSize, shape.nKvHeads, shape.headDim);
  const cache = shape.numBlocks * shape.blockSize * shape.nKvHeads * shape.headDim;
  const scales = shape.numBlocks * shape.blockSize * shape.nKvHeads;
  checkArray(fn, 'kCache', kCache, 'Int8Array', cache);
  checkArray(fn, 'kScales', kScales, 'Float32Array', scales);
  checkArray(fn, 'vCache', vCache, 'Int8Array', cache);
  checkArray(fn, 'vScales', vScales, 'Float32Array', scales);
}

function checkKvWriteI8(args: Parameters<typeof kvWriteI8>): KvWriteI8Args {
  const [kCache, kScales, vCache, vScales, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, status] =
    args;
  const fn = 'kvWriteI8';
  checkInt8Caches(fn, { numBlocks, blockSize, nKvHeads, headDim }, kCache, kScales, vCache, vScales);
  checkInt(fn, 'n', n, 0, 0x7fffffff);
  checkArray(fn, 'k', k, 'Float32Array', n * nKvHeads * headDim);
  checkArray(fn, 'v', v, 'Float32Array', n * nKvHeads * headDim);
  checkArray(fn, 'slots', slots, 'Int32Array', n);
  const checked = resetStatus(fn, status);
  return [kCache, kScales, vCache, vScales, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, checked];
}

function kvWriteI8Error(args: KvWriteI8Args): RangeError | undefined {
  const [, , , , numBlocks, blockSize, , , , , slots, , status] = args;
  return kvWriteError('kvWriteI8', numBlocks, blockSize, slots, status);
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
  const args = checkKvWriteI8([
    kCache,
    kScales,
    vCache,
    vScales,
    numBlocks,
    blockSize,
    nKvHeads,
    headDim,
    k,
    v,
    slots,
    n,
    status,
  ]);
  addon.kvWriteI8(...args);
  const error = kvWriteI8Error(args);
  if (error) throw error;
}

/** `kvWriteI8` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function kvWriteI8Async(...args: Parameters<typeof kvWriteI8>): Promise<void> {
  const checked = checkKvWriteI8(args);
  await addon.kvWriteI8Async(...checked);
  const error = kvWriteI8Error(checked);
  if (error) throw error;
}

function checkPagedAttentionI8(args: Parameters<typeof pagedAttentionI8>): PagedAttentionI8Args {
  const [q, kCache, kScales, vCache, vScales, numBlocks, blockSize, nHeads, nKvHeads, headDim, ...rest] =
    args;
  const [blockTables, maxBlocksPerSeq, tokenSeq, tokenPos, n, scale, out, status] = rest;
  const fn = 'pagedAttentionI8';
  checkInt8Caches(fn, { numBlocks, blockSize, nKvHeads, headDim }, kCache, kScales, vCache, vScales);
  checkBatch(
    fn,
    q,
    nHeads,
    nKvHeads,
    headDim,
    blockTables,
    maxBlocksPerSeq,
    tokenSeq,
    tokenPos,
    n,
    scale,
    out,
  );
  return [
    q,
    kCache,
    kScales,
    vCache,
    vScales,
    numBlocks,
    blockSize,
    nHeads,
    nKvHeads,
    headDim,
    blockTables,
    maxBlocksPerSeq,
    tokenSeq,
    tokenPos,
    n,
    scale,
    out,
    resetStatus(fn, status),
  ];
}

function reportI8(args: PagedAttentionI8Args): BatchReport {
  const [
    ,
    ,
    ,
    ,
    ,
    numBlocks,
    blockSize,
    ,
    ,
    ,
    blockTables,
    maxBlocksPerSeq,
    tokenSeq,
    tokenPos,
    ,
    ,
    ,
    status,
  ] = args;
  return {
    fn: 'pagedAttentionI8',
    numBlocks,
    blockSize,
    blockTables,
    maxBlocksPerSeq,
    tokenSeq,
    tokenPos,
    status,
  };
}

/**
 * `pagedAttention` over int8 caches written by `kvWriteI8`: scores use `k = int8 · kScale`, the output
 * `v = int8 · vScale` (the scales fold into the score and the probability, so the inner loops stay
 * int8 → f32 conversions and FMAs). Same batch arguments, checks and error reporting as `pagedAttention`.
 *
 * @param kCache (numBlocks, nKvHeads, headDim, blockSize) int8
 * @param kScales (numBlocks, nKvHeads, blockSize)
 * @param vCache (numBlocks, nKvHeads, blockSize, headDim) int8
 * @param vScales (numBlocks, nKvHeads, blockSize)
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
  const args = checkPagedAttentionI8([
    q,
    kCache,
    kScales,
    vCache,
    vScales,
    numBlocks,
    blockSize,
    nHeads,
    nKvHeads,
    headDim,
    blockTables,
    maxBlocksPerSeq,
    tokenSeq,
    tokenPos,
    n,
    scale,
    out,
    status,
  ]);
  addon.pagedAttentionI8(...args);
  const error = pagedAttentionError(reportI8(args));
  if (error) throw error;
}

/** `pagedAttentionI8` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function pagedAttentionI8Async(...args: Parameters<typeof pagedAttentionI8>): Promise<void> {
  const checked = checkPagedAttentionI8(args);
  await addon.pagedAttentionI8Async(...checked);
  const error = pagedAttentionError(reportI8(checked));
  if (error) throw error;
}

function checkKvCopyBlocksI8(args: Parameters<typeof kvCopyBlocksI8>): KvCopyBlocksI8Args {
  const [kCache, kScales, vCache, vScales, numBlocks, blockSize, nKvHeads, headDim, copies, n, status] = args;
  const fn = 'kvCopyBlocksI8';
  checkInt8Caches(fn, { numBlocks, blockSize, nKvHeads, headDim }, kCache, kScales, vCache, vScales);
  checkInt(fn, 'n', n, 0, 0x3fffffff);
  checkArray(fn, 'copies', copies, 'Int32Array', 2 * n);
  const checked = resetStatus(fn, status);
  return [kCache, kScales, vCache, vScales, numBlocks, blockSize, nKvHeads, headDim, copies, n, checked];
}

function kvCopyBlocksI8Error(args: KvCopyBlocksI8Args): RangeError | undefined {
  const [, , , , numBlocks, , , , copies, , status] = args;
  return kvCopyBlocksError('kvCopyBlocksI8', numBlocks, copies, status);
}

/** `kvCopyBlocks` for int8 caches: copies the blocks of K, its scales, V and its scales. */
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
  const args = checkKvCopyBlocksI8([
    kCache,
    kScales,
    vCache,
    vScales,
    numBlocks,
    blockSize,
    nKvHeads,
    headDim,
    copies,
    n,
    status,
  ]);
  addon.kvCopyBlocksI8(...args);
  const error = kvCopyBlocksI8Error(args);
  if (error) throw error;
}

/** `kvCopyBlocksI8` on a libuv worker thread; rejects with the RangeError the sync call would throw. */
export async function kvCopyBlocksI8Async(...args: Parameters<typeof kvCopyBlocksI8>): Promise<void> {
  const checked = checkKvCopyBlocksI8(args);
  await addon.kvCopyBlocksI8Async(...checked);
  const error = kvCopyBlocksI8Error(checked);
  if (error) throw error;
}
