import type { PreparedCall } from './args.js';
import { native } from './native.js';

/**
 * On-disk ternary weight formats (codes are w + 1: 0/1/2 mean -1/0/+1):
 * - `TQ1_0` (GGUF): 256 weights in 54 bytes: qs[48] base-3 (5 trits/byte), qh[4] (4 trits/byte), fp16 d.
 * - `TQ2_0` (GGUF): 256 weights in 66 bytes: qs[64] (4 codes/byte), fp16 d.
 * - `I2_S` (bitnet.cpp, x86): the tensor flattened into 128-weight blocks of 32 bytes, then ONE f32 scale for
 *   the whole tensor and padding: n/4 + 32 bytes in total.
 * The exact bit order of each is documented in src/formats/ternary_blocks.h.
 */
export type TernaryFormat = 'TQ1_0' | 'TQ2_0' | 'I2_S';

export interface TernaryFormatInfo {
  /** Weights per block. */
  readonly blockWeights: number;
  /** Bytes per block (I2_S: code bytes only; the tensor adds a 32-byte trailer holding the scale). */
  readonly blockBytes: number;
}

export const TERNARY_FORMATS: Readonly<Record<TernaryFormat, TernaryFormatInfo>> = Object.freeze({
  TQ1_0: Object.freeze({ blockWeights: 256, blockBytes: 54 }),
  TQ2_0: Object.freeze({ blockWeights: 256, blockBytes: 66 }),
  I2_S: Object.freeze({ blockWeights: 128, blockBytes: 32 }),
});

/** Bytes after the I2_S codes: the f32 tensor scale, then padding. */
export const I2S_TRAILER_BYTES = 32;

/** Numbering shared with src/formats/ternary_blocks.h (enum TernaryFormat). */
const FORMAT_IDS: Readonly<Record<TernaryFormat, number>> = { TQ1_0: 0, TQ2_0: 1, I2_S: 2 };

interface FormatsNative {
  ternaryDecode(
    format: number,
    bytes: Uint8Array,
    nWeights: number,
    values: Int8Array,
    scales: Float32Array,
    status: Int32Array,
  ): void;
  ternaryEncode(
    format: number,
    values: Int8Array,
    scales: Float32Array,
    out: Uint8Array,
    status: Int32Array,
  ): void;
  ternaryDecodeAsync(...args: Parameters<FormatsNative['ternaryDecode']>): Promise<void>;
  ternaryEncodeAsync(...args: Parameters<FormatsNative['ternaryEncode']>): Promise<void>;
}
const n = native as unknown as FormatsNative;

/** @internal The native id of a format; TypeError for anything else. */
export function ternaryFormatId(format: TernaryFormat, fn: string): number {
  const id = typeof format === 'string' ? FORMAT_IDS[format] : undefined;
  if (id === undefined || !Object.hasOwn(FORMAT_IDS, format)) {
    throw new TypeError(`${fn}: format must be 'TQ1_0', 'TQ2_0' or 'I2_S', got ${String(format)}`);
  }
  return id;
}

export function ternaryFormatInfo(format: TernaryFormat): TernaryFormatInfo {
  ternaryFormatId(format, 'ternaryFormatInfo');
  return TERNARY_FORMATS[format];
}

function checkWeightCount(fn: string, format: TernaryFormat, nWeights: number): void {
  if (!Number.isSafeInteger(nWeights) || nWeights < 0) {
    throw new TypeError(`${fn}: nWeights must be a non-negative integer, got ${String(nWeights)}`);
  }
  const { blockWeights } = TERNARY_FORMATS[format];
  if (nWeights % blockWeights !== 0) {
    throw new RangeError(`${fn}: nWeights (${nWeights}) must be a multiple of ${blockWeights} for ${format}`);
  }
}

/** Bytes of a tensor of `nWeights` weights: I2_S n/4 + 32, TQ* n/256 blocks. RangeError on a partial block. */
export function ternaryTensorBytes(format: TernaryFormat, nWeights: number): number {
  ternaryFormatId(format, 'ternaryTensorBytes');
  checkWeightCount('ternaryTensorBytes', format, nWeights);
  if (format === 'I2_S') return nWeights / 4 + I2S_TRAILER_BYTES;
  const { blockWeights, blockBytes } = TERNARY_FORMATS[format];
  return (nWeights / blockWeights) * blockBytes;
}

export interface DecodedTernary {
  /** (nWeights) each -1, 0 or +1. */
  values: Int8Array;
  /** TQ*: (nWeights / 256) one per block, from its fp16 d; I2_S: (1) the tensor scale. */
  scales: Float32Array;
}

function scaleCount(format: TernaryFormat, nWeights: number): number {
  return format === 'I2_S' ? 1 : nWeights / 256;
}

function checkStatus(fn: string, status: Int32Array, what: string): void {
  if (status[0] === -2) throw new Error(`${fn}: did not run (it cannot be recorded into a program)`);
  if (status[0] !== -1) throw new RangeError(`${fn}: block ${status[0]} ${what}`);
}

function prepareDecode(
  fn: string,
  format: TernaryFormat,
  bytes: Uint8Array,
  nWeights: number,
): PreparedCall<Parameters<FormatsNative['ternaryDecode']>, DecodedTernary> {
  const id = ternaryFormatId(format, fn);
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array`);
  const need = ternaryTensorBytes(format, nWeights);
  if (bytes.length < need) {
    throw new RangeError(`${fn}: bytes holds ${bytes.length} bytes, ${format} x ${nWeights} needs ${need}`);
  }
  const values = new Int8Array(nWeights);
  const scales = new Float32Array(scaleCount(format, nWeights));
  const status = new Int32Array(1).fill(-2); // the kernel writes -1 (fine) or a block index
  return {
    args: [id, bytes, nWeights, values, scales, status],
    finish: () => {
      checkStatus(fn, status, 'holds the invalid code 3 (codes are 0/1/2 = -1/0/+1)');
      return { values, scales };
    },
  };
}

/**
 * Decodes a ternary tensor byte-exactly as llama.cpp / bitnet.cpp do. RangeError on an invalid code (3).
 *
 * @param bytes (ternaryTensorBytes(format, nWeights)) the tensor as stored in the GGUF file
 */
export function decodeTernary(format: TernaryFormat, bytes: Uint8Array, nWeights: number): DecodedTernary {
  const call = prepareDecode('decodeTernary', format, bytes, nWeights);
  n.ternaryDecode(...call.args);
  return call.finish();
}

/** decodeTernary off the JS thread; do not modify `bytes` until the promise settles. */
export async function decodeTernaryAsync(...args: Parameters<typeof decodeTernary>): Promise<DecodedTernary> {
  const call = prepareDecode('decodeTernaryAsync', ...args);
  await n.ternaryDecodeAsync(...call.args);
  return call.finish();
}

function prepareEncode(
  fn: string,
  format: TernaryFormat,
  values: Int8Array,
  scales: Float32Array,
): PreparedCall<Parameters<FormatsNative['ternaryEncode']>, Uint8Array> {
  const id = ternaryFormatId(format, fn);
  if (!(values instanceof Int8Array)) throw new TypeError(`${fn}: values must be an Int8Array`);
  if (!(scales instanceof Float32Array)) throw new TypeError(`${fn}: scales must be a Float32Array`);
  const bytes = ternaryTensorBytes(format, values.length);
  const want = scaleCount(format, values.length);
  if (scales.length !== want) {
    throw new RangeError(
      `${fn}: scales has ${scales.length} elements, ${format} x ${values.length} needs ${want}`,
    );
  }
  const out = new Uint8Array(bytes);
  const status = new Int32Array(1).fill(-2);
  return {
    args: [id, values, scales, out, status],
    finish: () => {
      checkStatus(fn, status, 'holds a value outside {-1, 0, 1}');
      return out;
    },
  };
}

/**
 * Writes a ternary tensor byte-identical to llama.cpp's quantize_row_tq{1,2}_0_ref / bitnet.cpp's
 * quantize_i2_s for the same ternary values and scales (I2_S padding is zeroed).
 *
 * @param values (nWeights) each -1, 0 or +1
 * @param scales TQ*: (nWeights / 256) one per block, stored as fp16; I2_S: (1)
 */
export function encodeTernary(format: TernaryFormat, values: Int8Array, scales: Float32Array): Uint8Array {
  const call = prepareEncode('encodeTernary', format, values, scales);
  n.ternaryEncode(...call.args);
  return call.finish();
}

/** encodeTernary off the JS thread; do not modify `values` or `scales` until the promise settles. */
export async function encodeTernaryAsync(...args: Parameters<typeof encodeTernary>): Promise<Uint8Array> {
  const call = prepareEncode('encodeTernaryAsync', ...args);
  await n.ternaryEncodeAsync(...call.args);
  return call.finish();
}
