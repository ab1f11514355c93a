/**
 * GGUF metadata value types, as numbered in the GGUF spec (ggml/docs/gguf.md, `gguf_metadata_value_type`).
 * Names follow the spec; a value is a tagged record so a writer can reproduce the exact type it read.
 */
export type GgufScalarType =
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'float32'
  | 'bool'
  | 'string'
  | 'uint64'
  | 'int64'
  | 'float64';

export type GgufValueType = GgufScalarType | 'array';

/** The on-disk id of each value type (a uint32 before every value; arrays add their element type's id). */
export const GGUF_VALUE_TYPE_IDS: Readonly<Record<GgufValueType, number>> = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
};

const TYPE_BY_ID: readonly GgufValueType[] = Object.entries(GGUF_VALUE_TYPE_IDS)
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name as GgufValueType);

/** The value type with on-disk id `id`, or undefined for an id the spec does not define. */
export function valueTypeFromId(id: number): GgufValueType | undefined {
  return TYPE_BY_ID[id];
}

/** Bytes one element of this type takes on disk; for strings the minimum (the u64 length prefix). */
export const GGUF_SCALAR_SIZES: Readonly<Record<GgufScalarType, number>> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  bool: 1,
  string: 8,
  uint64: 8,
  int64: 8,
  float64: 8,
};

/** The JS value of one scalar of each type. 64-bit integers stay bigint: they may exceed 2^53. */
export interface GgufScalarValues {
  uint8: number;
  int8: number;
  uint16: number;
  int16: number;
  uint32: number;
  int32: number;
  float32: number;
  bool: boolean;
  string: string;
  uint64: bigint;
  int64: bigint;
  float64: number;
}

/** The JS value of an array of each element type: typed arrays for numbers (a 128k vocabulary's scores). */
export interface GgufArrayValues {
  uint8: Uint8Array;
  int8: Int8Array;
  uint16: Uint16Array;
  int16: Int16Array;
  uint32: Uint32Array;
  int32: Int32Array;
  float32: Float32Array;
  bool: boolean[];
  string: string[];
  uint64: BigUint64Array;
  int64: BigInt64Array;
  float64: Float64Array;
}

export type GgufScalar = {
  [T in GgufScalarType]: { readonly type: T; readonly value: GgufScalarValues[T] };
}[GgufScalarType];

/** An array of scalars. Arrays of arrays are legal in the spec but refused, as llama.cpp's gguf.cpp does. */
export type GgufArray = {
  [T in GgufScalarType]: {
    readonly type: 'array';
    readonly elementType: T;
    readonly value: GgufArrayValues[T];
  };
}[GgufScalarType];

export type GgufValue = GgufScalar | GgufArray;

/** Describes a value's type for messages: `uint32`, `array<string>`. */
export function describeValueType(value: GgufValue): string {
  return value.type === 'array' ? `array<${value.elementType}>` : value.type;
}
