import { GgufError } from './errors.js';
import type { GgmlTypeName } from './tensor-types.js';
import {
  describeValueType,
  type GgufArray,
  type GgufArrayValues,
  type GgufScalarType,
  type GgufValue,
} from './value-types.js';

/** One tensor's header entry, resolved against the file. */
export interface GgufTensorInfo {
  readonly name: string;
  /** ggml type id (see tensor-types.ts). */
  readonly type: number;
  readonly typeName: GgmlTypeName;
  /** Dimensions as GGUF stores them: ne0 (the contiguous, innermost one) first. */
  readonly shape: readonly number[];
  readonly nElements: number;
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  readonly byteLength: number;
  /** A view of the tensor's bytes (no copy; over the mapping for `openGguf`). */
  data(): Uint8Array;
}

export interface GgufFileInit {
  path: string;
  version: 2 | 3;
  alignment: number;
  metadata: ReadonlyMap<string, GgufValue>;
  tensors: ReadonlyMap<string, GgufTensorInfo>;
  dataOffset: number;
  bytes: Uint8Array;
}

const INTEGER_TYPES: ReadonlySet<GgufScalarType> = new Set([
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'uint64',
  'int64',
]);

/**
 * A parsed GGUF file: header, metadata and tensor directory. Tensor bytes stay in `bytes` (a view of the
 * mapped file) until `tensor.data()` is asked for. Typed getters throw a GgufError naming the key when it is
 * missing (unless a fallback is given) or holds another type.
 */
export class GgufFile {
  readonly path: string;
  readonly version: 2 | 3;
  readonly alignment: number;
  /** Key → value, in file order. */
  readonly metadata: ReadonlyMap<string, GgufValue>;
  /** Name → tensor, in file order. */
  readonly tensors: ReadonlyMap<string, GgufTensorInfo>;
  /** Absolute offset where the tensor data section starts. */
  readonly dataOffset: number;
  readonly bytes: Uint8Array;

  constructor(init: GgufFileInit) {
    this.path = init.path;
    this.version = init.version;
    this.alignment = init.alignment;
    this.metadata = init.metadata;
    this.tensors = init.tensors;
    this.dataOffset = init.dataOffset;
    this.bytes = init.bytes;
  }

  has(key: string): boolean {
    return this.metadata.has(key);
  }

  get(key: string): GgufValue | undefined {
    return this.metadata.get(key);
  }

  getString(key: string, fallback?: string): string {
    const v = this.lookup(key, fallback);
    if (v === undefined) return fallback as string;
    if (v.type !== 'string') throw this.wrongType(key, 'string', v);
    return v.value;
  }

  getBool(key: string, fallback?: boolean): boolean {
    const v = this.lookup(key, fallback);
    if (v === undefined) return fallback as boolean;
    if (v.type !== 'bool') throw this.wrongType(key, 'bool', v);
    return v.value;
  }

  /** Any integer type whose value fits in uint32 (writers differ: u32, i32 and u64 all occur for counts). */
  getU32(key: string, fallback?: number): number {
    return this.integer(key, fallback, 0, 0xffff_ffff, 'uint32');
  }

  /** Any integer type whose value fits in int32. */
  getI32(key: string, fallback?: number): number {
    return this.integer(key, fallback, -0x8000_0000, 0x7fff_ffff, 'int32');
  }

  /** Any non-negative integer up to 2^53 - 1, as a number. */
  getU64(key: string, fallback?: number): number {
    return this.integer(key, fallback, 0, Number.MAX_SAFE_INTEGER, 'uint64');
  }

  /** A float32 or float64 value. */
  getF32(key: string, fallback?: number): number {
    const v = this.lookup(key, fallback);
    if (v === undefined) return fallback as number;
    if (v.type !== 'float32' && v.type !== 'float64') throw this.wrongType(key, 'float32', v);
    return v.value;
  }

  /** An array value of any element type. */
  getArray(key: string): GgufArray {
    const v = this.lookup(key, undefined);
    if (v?.type !== 'array') throw this.wrongType(key, 'array', v as GgufValue);
    return v;
  }

  /** An array whose elements have exactly this type. */
  getTypedArray<T extends GgufScalarType>(key: string, elementType: T): GgufArrayValues[T] {
    const v = this.getArray(key);
    if (v.elementType !== elementType) throw this.wrongType(key, `array<${elementType}>`, v);
    return v.value as GgufArrayValues[T];
  }

  getStringArray(key: string): string[] {
    return this.getTypedArray(key, 'string');
  }

  /** The tensor called `name`, or undefined. */
  tensor(name: string): GgufTensorInfo | undefined {
    return this.tensors.get(name);
  }

  /** The tensor called `name`; throws a GgufError naming it when the file has no such tensor. */
  requireTensor(name: string): GgufTensorInfo {
    const t = this.tensors.get(name);
    if (t === undefined) {
      throw new GgufError('GGUF_INVALID', `GGUF file ${this.path}: tensor ${name} is missing`);
    }
    return t;
  }

  private lookup(key: string, fallback: unknown): GgufValue | undefined {
    const v = this.metadata.get(key);
    if (v === undefined && fallback === undefined) {
      throw new GgufError('GGUF_INVALID', `GGUF file ${this.path}: metadata key ${key} is missing`, {
        hint: 'the file was exported without this key; re-export it with a converter that writes it',
      });
    }
    return v;
  }

  private integer(
    key: string,
    fallback: number | undefined,
    min: number,
    max: number,
    expected: string,
  ): number {
    const v = this.lookup(key, fallback);
    if (v === undefined) return fallback as number;
    if (v.type === 'array' || !INTEGER_TYPES.has(v.type)) throw this.wrongType(key, expected, v);
    const n = typeof v.value === 'bigint' ? v.value : BigInt(v.value as number);
    if (n < BigInt(min) || n > BigInt(max)) {
      throw new GgufError(
        'GGUF_INVALID',
        `GGUF file ${this.path}: metadata key ${key} is ${n} (${v.type}), outside the ${expected} range [${min}, ${max}]`,
      );
    }
    return Number(n);
  }

  private wrongType(key: string, expected: string, found: GgufValue): GgufError {
    return new GgufError(
      'GGUF_INVALID',
      `GGUF file ${this.path}: metadata key ${key} should be ${expected}, but the file has ${describeValueType(found)}`,
    );
  }
}
