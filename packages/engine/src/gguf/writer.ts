import { open, rename, rm } from 'node:fs/promises';
import { ByteWriter } from './byte-writer.js';
import { alignUp, GGUF_DEFAULT_ALIGNMENT } from './reader.js';
import {
  type GgmlTypeName,
  supportedTensorTypeList,
  type TensorTypeTraits,
  tensorByteLength,
  tensorTypeName,
  tensorTypeTraitsOf,
} from './tensor-types.js';
import {
  GGUF_VALUE_TYPE_IDS,
  type GgufArray,
  type GgufArrayValues,
  type GgufScalar,
  type GgufScalarType,
  type GgufValue,
} from './value-types.js';

/** What `setArray` accepts for each element type (converted and range-checked into GgufArrayValues). */
export interface GgufArrayInput {
  uint8: ArrayLike<number>;
  int8: ArrayLike<number>;
  uint16: ArrayLike<number>;
  int16: ArrayLike<number>;
  uint32: ArrayLike<number>;
  int32: ArrayLike<number>;
  float32: ArrayLike<number>;
  bool: ArrayLike<boolean>;
  string: ArrayLike<string>;
  uint64: ArrayLike<bigint | number>;
  int64: ArrayLike<bigint | number>;
  float64: ArrayLike<number>;
}

/** A tensor's bytes, or a function producing them when the file is written (to stream huge models). */
export type GgufTensorData = Uint8Array | (() => Uint8Array);

interface PendingTensor {
  name: string;
  traits: TensorTypeTraits;
  shape: readonly number[];
  byteLength: number;
  data: GgufTensorData;
}

interface Layout {
  /** Magic, counts, metadata and tensor infos, zero-padded to the alignment. */
  header: Uint8Array;
  /** Absolute offset of each tensor's data, in addTensor order. */
  offsets: number[];
  totalBytes: number;
}

const INT_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  uint8: [0, 0xff],
  int8: [-0x80, 0x7f],
  uint16: [0, 0xffff],
  int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffff_ffff],
  int32: [-0x8000_0000, 0x7fff_ffff],
};
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
/** llama.cpp refuses tensor names of GGML_MAX_NAME (64) bytes or more. */
const MAX_TENSOR_NAME_BYTES = 63;
const utf8 = new TextEncoder();

/**
 * Builds a GGUF v3 file: metadata in the order keys were first set (setting a key again replaces its value
 * in place), then tensor infos, then each tensor's data at a multiple of the alignment (32, or the uint32
 * `general.alignment` if set). `write()` streams tensor by tensor, so a multi-GB model is never concatenated
 * in memory; `toBytes()` builds the whole file in memory for small tests.
 */
export class GgufWriter {
  private readonly metadata = new Map<string, GgufValue>();
  private readonly tensors: PendingTensor[] = [];
  private readonly tensorNames = new Set<string>();

  /** Sets `key` to an already-typed value (as read by parseGguf). */
  set(key: string, value: GgufValue): this {
    checkKey(key);
    if (typeof value !== 'object' || value === null || typeof value.type !== 'string') {
      throw new TypeError(`GgufWriter.set(${key}): value must be a { type, value } record`);
    }
    const normalized =
      value.type === 'array'
        ? normalizeArray(key, value.elementType, value.value as ArrayLike<unknown>)
        : normalizeScalar(key, value.type, value.value);
    if (key === 'general.alignment') checkAlignmentValue(normalized);
    this.metadata.set(key, normalized);
    return this;
  }

  setString(key: string, value: string): this {
    return this.set(key, { type: 'string', value });
  }
  setBool(key: string, value: boolean): this {
    return this.set(key, { type: 'bool', value });
  }
  setU8(key: string, value: number): this {
    return this.set(key, { type: 'uint8', value });
  }
  setI8(key: string, value: number): this {
    return this.set(key, { type: 'int8', value });
  }
  setU16(key: string, value: number): this {
    return this.set(key, { type: 'uint16', value });
  }
  setI16(key: string, value: number): this {
    return this.set(key, { type: 'int16', value });
  }
  setU32(key: string, value: number): this {
    return this.set(key, { type: 'uint32', value });
  }
  setI32(key: string, value: number): this {
    return this.set(key, { type: 'int32', value });
  }
  setF32(key: string, value: number): this {
    return this.set(key, { type: 'float32', value });
  }
  setF64(key: string, value: number): this {
    return this.set(key, { type: 'float64', value });
  }
  setU64(key: string, value: bigint | number): this {
    return this.set(key, { type: 'uint64', value: value as bigint });
  }
  setI64(key: string, value: bigint | number): this {
    return this.set(key, { type: 'int64', value: value as bigint });
  }

  /** Sets `key` to an array of `elementType` values (copied and range-checked). */
  setArray<T extends GgufScalarType>(key: string, elementType: T, values: GgufArrayInput[T]): this {
    checkKey(key);
    const normalized = normalizeArray(key, elementType, values);
    if (key === 'general.alignment') checkAlignmentValue(normalized);
    this.metadata.set(key, normalized);
    return this;
  }

  /**
   * Adds a tensor. `type` is a ggml type id or name ('TQ2_0'); `shape` is ne0 first (a matrix of `rows` rows
   * of `cols` values is [cols, rows]); `data` must hold exactly the bytes the type and shape need. Bytes are
   * not copied: keep them unchanged until the file is written.
   */
  addTensor(name: string, type: number | GgmlTypeName, shape: readonly number[], data: GgufTensorData): this {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError('GgufWriter.addTensor: name must be a non-empty string');
    }
    if (utf8.encode(name).byteLength > MAX_TENSOR_NAME_BYTES) {
      throw new RangeError(
        `GgufWriter.addTensor(${name}): name must be at most ${MAX_TENSOR_NAME_BYTES} UTF-8 bytes`,
      );
    }
    if (this.tensorNames.has(name))
      throw new RangeError(`GgufWriter.addTensor(${name}): tensor already added`);
    const traits = tensorTypeTraitsOf(type);
    if (traits === undefined) {
      const shown = typeof type === 'number' ? `${tensorTypeName(type)} (id ${type})` : JSON.stringify(type);
      throw new RangeError(
        `GgufWriter.addTensor(${name}): type ${shown} is not supported; expected one of ${supportedTensorTypeList()}`,
      );
    }
    const nElements = checkShape(name, traits, shape);
    const byteLength = tensorByteLength(traits, nElements);
    if (typeof data === 'function') {
      // Checked when produced, in write()/toBytes().
    } else if (data instanceof Uint8Array) {
      checkDataLength(name, traits, shape, byteLength, data);
    } else {
      throw new TypeError(
        `GgufWriter.addTensor(${name}): data must be a Uint8Array or a function returning one`,
      );
    }
    this.tensorNames.add(name);
    this.tensors.push({ name, traits, shape: [...shape], byteLength, data });
    return this;
  }

  /** The alignment the file will use: `general.alignment` if set, else 32. */
  get alignment(): number {
    const v = this.metadata.get('general.alignment');
    return v?.type === 'uint32' ? v.value : GGUF_DEFAULT_ALIGNMENT;
  }

  /** The whole file in memory. For tests and small files; use `write()` for models. */
  toBytes(): Uint8Array {
    const layout = this.layout();
    const out = new Uint8Array(layout.totalBytes);
    out.set(layout.header, 0);
    this.tensors.forEach((t, i) => {
      out.set(resolveData(t), layout.offsets[i]);
    });
    return out;
  }

  /**
   * Writes the file to `path`, one tensor at a time, through a temporary file renamed into place at the end,
   * so a crash never leaves a truncated file under the final name.
   */
  async write(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) {
      throw new TypeError('GgufWriter.write: path must be a non-empty string');
    }
    const layout = this.layout();
    const tmp = `${path}.partial-${process.pid}`;
    const file = await open(tmp, 'w');
    try {
      let pos = 0;
      const put = async (bytes: Uint8Array) => {
        let done = 0;
        while (done < bytes.byteLength) {
          const { bytesWritten } = await file.write(bytes, done, bytes.byteLength - done, pos + done);
          done += bytesWritten;
        }
        pos += bytes.byteLength;
      };
      const zeros = new Uint8Array(this.alignment);
      await put(layout.header);
      for (let i = 0; i < this.tensors.length; i++) {
        const offset = layout.offsets[i]!;
        if (offset > pos) await put(zeros.subarray(0, offset - pos));
        await put(resolveData(this.tensors[i]!));
      }
      if (layout.totalBytes > pos) await put(zeros.subarray(0, layout.totalBytes - pos));
      await file.close();
    } catch (e) {
      await file.close().catch(() => {});
      await rm(tmp, { force: true });
      throw e;
    }
    await rename(tmp, path);
  }

  private layout(): Layout {
    const alignment = this.alignment;
    const offsets: number[] = [];
    let dataEnd = 0;
    for (const t of this.tensors) {
      const at = alignUp(dataEnd, alignment);
      offsets.push(at);
      dataEnd = at + t.byteLength;
    }

    const w = new ByteWriter();
    w.bytes(utf8.encode('GGUF'));
    w.u32(3);
    w.u64(this.tensors.length);
    w.u64(this.metadata.size);
    for (const [key, value] of this.metadata) {
      w.string(key);
      w.u32(GGUF_VALUE_TYPE_IDS[value.type]);
      if (value.type === 'array') {
        w.u32(GGUF_VALUE_TYPE_IDS[value.elementType]);
        w.u64(value.value.length);
        for (let i = 0; i < value.value.length; i++) writeScalar(w, value.elementType, value.value[i]!);
      } else {
        writeScalar(w, value.type, value.value);
      }
    }
    this.tensors.forEach((t, i) => {
      w.string(t.name);
      w.u32(t.shape.length);
      for (const d of t.shape) w.u64(d);
      w.u32(t.traits.id);
      w.u64(offsets[i]!);
    });
    w.pad(alignment);
    const header = w.result();
    return {
      header,
      offsets: offsets.map((o) => header.byteLength + o),
      // llama.cpp pads after every tensor, the last one included.
      totalBytes: header.byteLength + alignUp(dataEnd, alignment),
    };
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0)
    throw new TypeError('GgufWriter: key must be a non-empty string');
}

function checkAlignmentValue(v: GgufValue): void {
  if (v.type !== 'uint32') throw new TypeError(`GgufWriter: general.alignment must be uint32, got ${v.type}`);
  if (v.value === 0 || (v.value & (v.value - 1)) !== 0) {
    throw new RangeError(`GgufWriter: general.alignment must be a power of two, got ${v.value}`);
  }
}

/** Checks one value; `index` names an array element in messages (built only on error: vocabularies are big). */
function normalizeScalar(baseKey: string, type: string, v: unknown, index = -1): GgufScalar {
  const key = () => (index < 0 ? baseKey : `${baseKey}[${index}]`);
  const bad = (expected: string) =>
    new TypeError(
      `GgufWriter: key ${key()} (${type}) expects ${expected}, got ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)}`,
    );
  switch (type) {
    case 'string':
      if (typeof v !== 'string') throw bad('a string');
      return { type, value: v };
    case 'bool':
      if (typeof v !== 'boolean') throw bad('a boolean');
      return { type, value: v };
    case 'float32':
    case 'float64':
      if (typeof v !== 'number') throw bad('a number');
      return { type, value: type === 'float32' ? Math.fround(v) : v };
    case 'uint8':
    case 'int8':
    case 'uint16':
    case 'int16':
    case 'uint32':
    case 'int32': {
      const [min, max] = INT_RANGES[type]!;
      if (typeof v !== 'number' || !Number.isInteger(v)) throw bad('an integer');
      if (v < min || v > max)
        throw new RangeError(`GgufWriter: key ${key()} (${type}) must be in [${min}, ${max}], got ${v}`);
      return { type, value: v };
    }
    case 'uint64':
    case 'int64': {
      if (typeof v === 'number' && !Number.isSafeInteger(v)) throw bad('a bigint or a safe integer');
      if (typeof v !== 'number' && typeof v !== 'bigint') throw bad('a bigint or a safe integer');
      const n = BigInt(v);
      const [min, max] = type === 'uint64' ? [0n, U64_MAX] : [I64_MIN, I64_MAX];
      if (n < min || n > max)
        throw new RangeError(`GgufWriter: key ${key()} (${type}) must be in [${min}, ${max}], got ${n}`);
      return { type, value: n };
    }
    default:
      throw new TypeError(`GgufWriter: key ${key()} has unknown value type ${JSON.stringify(type)}`);
  }
}

function normalizeArray(key: string, elementType: string, values: ArrayLike<unknown>): GgufArray {
  if (elementType === 'array')
    throw new TypeError(`GgufWriter: key ${key}: arrays of arrays are not supported`);
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw new TypeError(`GgufWriter: key ${key} expects an array of ${elementType} values`);
  }
  const n = values.length;
  const item = (i: number) => normalizeScalar(key, elementType, values[i], i).value;
  const fill = <A extends { [i: number]: unknown }>(out: A): A => {
    for (let i = 0; i < n; i++) out[i] = item(i) as A[number];
    return out;
  };
  const make = (): GgufArrayValues[GgufScalarType] => {
    switch (elementType as GgufScalarType) {
      case 'uint8':
        return fill(new Uint8Array(n));
      case 'int8':
        return fill(new Int8Array(n));
      case 'uint16':
        return fill(new Uint16Array(n));
      case 'int16':
        return fill(new Int16Array(n));
      case 'uint32':
        return fill(new Uint32Array(n));
      case 'int32':
        return fill(new Int32Array(n));
      case 'float32':
        return fill(new Float32Array(n));
      case 'float64':
        return fill(new Float64Array(n));
      case 'uint64':
        return fill(new BigUint64Array(n));
      case 'int64':
        return fill(new BigInt64Array(n));
      case 'bool':
        return fill(new Array<boolean>(n));
      case 'string':
        return fill(new Array<string>(n));
      default:
        throw new TypeError(
          `GgufWriter: key ${key} has unknown array element type ${JSON.stringify(elementType)}`,
        );
    }
  };
  return { type: 'array', elementType, value: make() } as GgufArray;
}

function writeScalar(w: ByteWriter, type: GgufScalarType, v: number | bigint | boolean | string): void {
  switch (type) {
    case 'uint8':
      w.u8(v as number);
      return;
    case 'int8':
      w.i8(v as number);
      return;
    case 'uint16':
      w.u16(v as number);
      return;
    case 'int16':
      w.i16(v as number);
      return;
    case 'uint32':
      w.u32(v as number);
      return;
    case 'int32':
      w.i32(v as number);
      return;
    case 'float32':
      w.f32(v as number);
      return;
    case 'float64':
      w.f64(v as number);
      return;
    case 'uint64':
      w.u64(v as bigint);
      return;
    case 'int64':
      w.i64(v as bigint);
      return;
    case 'bool':
      w.u8(v ? 1 : 0);
      return;
    case 'string':
      w.string(v as string);
      return;
  }
}

function checkShape(name: string, traits: TensorTypeTraits, shape: readonly number[]): number {
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 4) {
    throw new RangeError(`GgufWriter.addTensor(${name}): shape must be an array of 1 to 4 dimensions`);
  }
  let n = 1;
  for (const [d, dim] of shape.entries()) {
    if (!Number.isSafeInteger(dim) || dim <= 0) {
      throw new RangeError(
        `GgufWriter.addTensor(${name}): shape[${d}] must be a positive integer, got ${dim}`,
      );
    }
    n *= dim;
    if (n > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(`GgufWriter.addTensor(${name}): element count exceeds 2^53 - 1`);
    }
  }
  if (shape[0]! % traits.blockSize !== 0) {
    throw new RangeError(
      `GgufWriter.addTensor(${name}): ne0 = ${shape[0]} must be a multiple of the ${traits.name} block size ${traits.blockSize}`,
    );
  }
  return n;
}

function checkDataLength(
  name: string,
  traits: TensorTypeTraits,
  shape: readonly number[],
  byteLength: number,
  data: Uint8Array,
): void {
  if (data.byteLength !== byteLength) {
    throw new RangeError(
      `GgufWriter.addTensor(${name}): ${traits.name} [${shape.join(', ')}] needs ${byteLength} bytes, got ${data.byteLength}`,
    );
  }
}

function resolveData(t: PendingTensor): Uint8Array {
  if (typeof t.data !== 'function') return t.data;
  const bytes = t.data();
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`GgufWriter: the data function of tensor ${t.name} must return a Uint8Array`);
  }
  checkDataLength(t.name, t.traits, t.shape, t.byteLength, bytes);
  return bytes;
}
