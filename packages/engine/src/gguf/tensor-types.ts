/**
 * ggml tensor type ids and the storage traits of the ones Ternion reads.
 *
 * Ids follow `enum ggml_type` in llama.cpp's ggml/include/ggml.h; ids 36..39 differ between upstream and
 * bitnet.cpp's ggml fork (Eddie-Wang1120/llama.cpp, the submodule of microsoft/BitNet), which put I2_S at 36,
 * I8_S at 37, TL1 at 38 and TL2 at 39. Upstream removed 36..38 (IQ4_NL_4_4/4_8/8_8) from GGUF files, so 36
 * means I2_S without ambiguity; 39 is MXFP4 upstream.
 */

/** Ids of the tensor types Ternion supports. */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q8_0: 8,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  I2_S: 36,
} as const;

export type GgmlTypeName = keyof typeof GgmlType;
export type GgmlTypeId = (typeof GgmlType)[GgmlTypeName];

/**
 * How a type is stored: `blockSize` elements share one `typeSize`-byte block, so a tensor of n elements
 * (n a multiple of blockSize along ne0) takes `n / blockSize * typeSize + trailerBytes` bytes.
 */
export interface TensorTypeTraits {
  readonly id: GgmlTypeId;
  readonly name: GgmlTypeName;
  readonly blockSize: number;
  readonly typeSize: number;
  /** Bytes after the blocks, once per tensor (I2_S keeps its per-tensor scale there). */
  readonly trailerBytes: number;
  /** True for the ternary weight formats. */
  readonly ternary: boolean;
}

const TRAITS: readonly TensorTypeTraits[] = [
  { id: 0, name: 'F32', blockSize: 1, typeSize: 4, trailerBytes: 0, ternary: false },
  { id: 1, name: 'F16', blockSize: 1, typeSize: 2, trailerBytes: 0, ternary: false },
  // block_q8_0: fp16 d, int8 qs[32] (ggml-common.h).
  { id: 8, name: 'Q8_0', blockSize: 32, typeSize: 34, trailerBytes: 0, ternary: false },
  { id: 30, name: 'BF16', blockSize: 1, typeSize: 2, trailerBytes: 0, ternary: false },
  // block_tq1_0: qs[(256 - 4*256/64) / 5] = 48 bytes of base-3 digits, qh[4], fp16 d.
  { id: 34, name: 'TQ1_0', blockSize: 256, typeSize: 54, trailerBytes: 0, ternary: true },
  // block_tq2_0: qs[64] (2 bits per weight), fp16 d.
  { id: 35, name: 'TQ2_0', blockSize: 256, typeSize: 66, trailerBytes: 0, ternary: true },
  // bitnet.cpp declares I2_S with blck_size 1 / type_size 1 and then overrides ggml_nbytes() to
  // `nbytes / 4 + 32`: 2 bits per weight, then 32 bytes holding the f32 per-tensor scale (and padding).
  // Four weights per byte as block 4 / 1 byte plus a 32-byte trailer gives the same byte count.
  { id: 36, name: 'I2_S', blockSize: 4, typeSize: 1, trailerBytes: 32, ternary: true },
];

const TRAITS_BY_ID = new Map<number, TensorTypeTraits>(TRAITS.map((t) => [t.id, t]));

/** Names of every id llama.cpp or bitnet.cpp has assigned, for messages about files we cannot read. */
const KNOWN_NAMES: Readonly<Record<number, string>> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  4: 'Q4_2 (removed from ggml)',
  5: 'Q4_3 (removed from ggml)',
  6: 'Q5_0',
  7: 'Q5_1',
  8: 'Q8_0',
  9: 'Q8_1',
  10: 'Q2_K',
  11: 'Q3_K',
  12: 'Q4_K',
  13: 'Q5_K',
  14: 'Q6_K',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  30: 'BF16',
  31: 'Q4_0_4_4 (removed from ggml)',
  32: 'Q4_0_4_8 (removed from ggml)',
  33: 'Q4_0_8_8 (removed from ggml)',
  34: 'TQ1_0',
  35: 'TQ2_0',
  36: 'I2_S',
  37: 'I8_S (bitnet.cpp)',
  38: 'TL1 (bitnet.cpp)',
  39: 'MXFP4 (TL2 in bitnet.cpp)',
  40: 'NVFP4',
  41: 'Q1_0',
  42: 'Q2_0',
};

/** Storage traits of a supported type id, or undefined if Ternion cannot read that type. */
export function tensorTypeTraits(id: number): TensorTypeTraits | undefined {
  return TRAITS_BY_ID.get(id);
}

/** The traits of a supported type given by name (`'TQ2_0'`) or id (`35`), or undefined. */
export function tensorTypeTraitsOf(type: number | string): TensorTypeTraits | undefined {
  if (typeof type === 'number') return TRAITS_BY_ID.get(type);
  return Object.hasOwn(GgmlType, type) ? TRAITS_BY_ID.get(GgmlType[type as GgmlTypeName]) : undefined;
}

/** Every supported type, in id order. */
export const SUPPORTED_TENSOR_TYPES: readonly TensorTypeTraits[] = TRAITS;

/** `'Q4_K'`, or `'unknown'` for an id neither llama.cpp nor bitnet.cpp has assigned. */
export function tensorTypeName(id: number): string {
  return KNOWN_NAMES[id] ?? 'unknown';
}

/** "F32, F16, Q8_0, BF16, TQ1_0, TQ2_0, I2_S" for messages. */
export function supportedTensorTypeList(): string {
  return TRAITS.map((t) => t.name).join(', ');
}

/**
 * Bytes a tensor of `nElements` elements of this type occupies. `nElements` must be a multiple of the block
 * size (callers check ne0 % blockSize, which implies it).
 */
export function tensorByteLength(traits: TensorTypeTraits, nElements: number): number {
  return (nElements / traits.blockSize) * traits.typeSize + traits.trailerBytes;
}
