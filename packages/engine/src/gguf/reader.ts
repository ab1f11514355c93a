import { mmapFile } from '@ternion/kernels-native';
import { ByteReader } from './byte-reader.js';
import { GgufError } from './errors.js';
import { GgufFile, type GgufTensorInfo } from './gguf-file.js';
import {
  supportedTensorTypeList,
  tensorByteLength,
  tensorTypeName,
  tensorTypeTraits,
} from './tensor-types.js';
import {
  GGUF_SCALAR_SIZES,
  type GgufArray,
  type GgufScalar,
  type GgufScalarType,
  type GgufValue,
  valueTypeFromId,
} from './value-types.js';

/** "GGUF" read as a little-endian uint32 (the spec's GGUF_MAGIC 0x46554747). */
const MAGIC = [0x47, 0x47, 0x55, 0x46];
export const GGUF_DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;
/** Smallest possible key/value on disk: u64 key length + u32 type + a 1-byte value. */
const MIN_KV_BYTES = 8 + 4 + 1;
/** Smallest possible tensor info: u64 name length + u32 n_dims + one u64 dim + u32 type + u64 offset. */
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;
const INT64_SIGN = 1n << 63n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Memory-maps the file at `path` (O(1); pages are read when touched) and parses its header. Tensor data is
 * not read: `tensor.data()` returns views into the mapping.
 */
export function openGguf(path: string): GgufFile {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError('openGguf: path must be a non-empty string');
  }
  let mapped: ArrayBuffer;
  try {
    mapped = mmapFile(path);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new GgufError('GGUF_INVALID', `cannot open GGUF file ${path}: ${reason}`, { cause });
  }
  return parseGguf(new Uint8Array(mapped), path);
}

/**
 * Parses a whole GGUF v2/v3 file held in memory. Every count, length and offset is checked against the
 * bytes that are actually there before anything is allocated, so a corrupt file throws a GgufError (never
 * another error, never a hang). `name` is used in messages.
 */
export function parseGguf(bytes: Uint8Array, name = '<buffer>'): GgufFile {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('parseGguf: bytes must be a Uint8Array');
  if (typeof name !== 'string') throw new TypeError('parseGguf: name must be a string');
  const r = new ByteReader(bytes, name);

  const version = readHeader(r);
  const nTensors = r.u64Number('the tensor count (n_tensors)');
  const nKv = r.u64Number('the metadata key count (n_kv)');
  if (nTensors * MIN_TENSOR_INFO_BYTES > r.remaining) {
    throw r.invalid(
      `n_tensors is ${nTensors}, but the ${r.remaining} bytes after the header hold at most ` +
        `${Math.floor(r.remaining / MIN_TENSOR_INFO_BYTES)} tensor infos (truncated or corrupt file)`,
    );
  }
  if (nKv * MIN_KV_BYTES > r.remaining - nTensors * MIN_TENSOR_INFO_BYTES) {
    throw r.invalid(
      `n_kv is ${nKv}, but the ${r.remaining} bytes after the header hold at most ` +
        `${Math.floor((r.remaining - nTensors * MIN_TENSOR_INFO_BYTES) / MIN_KV_BYTES)} key/value pairs (truncated or corrupt file)`,
    );
  }

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = r.string(`key #${i} name`);
    if (metadata.has(key)) throw r.invalid(`key #${i} (${key}) appears twice`);
    metadata.set(key, readValue(r, `key #${i} (${key})`));
  }

  const alignment = readAlignment(r, metadata);
  const infos: RawTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const info = readTensorInfo(r, i, alignment);
    if (names.has(info.name)) throw r.invalid(`tensor #${i} (${info.name}) appears twice`);
    names.add(info.name);
    infos.push(info);
  }

  const dataOffset = alignUp(r.pos, alignment);
  const tensors = new Map<string, GgufTensorInfo>();
  for (const info of infos) {
    const offset = dataOffset + info.relativeOffset;
    const end = offset + info.byteLength;
    if (end > bytes.byteLength) {
      throw r.invalid(
        `tensor ${info.name} data [${offset}, ${end}) lies outside the file (size ${bytes.byteLength})`,
      );
    }
    tensors.set(info.name, {
      name: info.name,
      type: info.type,
      typeName: info.typeName,
      shape: info.shape,
      nElements: info.nElements,
      offset,
      byteLength: info.byteLength,
      data: () => bytes.subarray(offset, end),
    });
  }
  checkNoOverlap(r, [...tensors.values()]);

  return new GgufFile({ path: name, version, alignment, metadata, tensors, dataOffset, bytes });
}

function readHeader(r: ByteReader): 2 | 3 {
  r.need(4, 'the magic number');
  const magic = r.bytes.subarray(0, 4);
  if (!MAGIC.every((b, i) => magic[i] === b)) {
    const hex = [...magic].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = [...magic].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    throw r.invalid(
      `bad magic: expected "GGUF" (47 47 55 46), found ${hex} ("${text}"); this is not a GGUF file`,
    );
  }
  r.pos = 4;
  const version = r.u32('the version');
  if (version === 2 || version === 3) return version;
  if (version === 1) {
    throw r.unsupported(
      'GGUF version 1 (32-bit counts) is not supported',
      'convert the model again with a current llama.cpp',
    );
  }
  const swapped =
    ((version & 0xff) << 24) |
    (((version >>> 8) & 0xff) << 16) |
    (((version >>> 16) & 0xff) << 8) |
    (version >>> 24);
  if (swapped === 2 || swapped === 3) {
    throw r.unsupported(`the file is big-endian GGUF v${swapped}; only little-endian files are supported`);
  }
  throw r.unsupported(`unsupported GGUF version ${version}; supported: 2, 3`);
}

function readValue(r: ByteReader, what: string): GgufValue {
  const typeId = r.u32(`${what} value type`);
  const type = valueTypeFromId(typeId);
  if (type === undefined) throw r.invalid(`${what} has unknown value type id ${typeId}`);
  if (type !== 'array') return readScalar(r, type, `${what} value`);

  const elementId = r.u32(`${what} array element type`);
  const elementType = valueTypeFromId(elementId);
  if (elementType === undefined) throw r.invalid(`${what} is an array of unknown value type id ${elementId}`);
  if (elementType === 'array')
    throw r.unsupported(`${what} is an array of arrays, which Ternion does not read`);
  const length = r.u64Number(`${what} array length`);
  const minBytes = length * GGUF_SCALAR_SIZES[elementType];
  if (minBytes > r.remaining) {
    throw r.invalid(
      `${what} is an array of ${length} ${elementType} values (at least ${minBytes} bytes), ` +
        `but only ${r.remaining} bytes remain in the file`,
    );
  }
  return readArray(r, elementType, length, what);
}

function readScalar(r: ByteReader, type: GgufScalarType, what: string): GgufScalar {
  if (type === 'string') return { type, value: r.string(what) };
  const v = r.take(GGUF_SCALAR_SIZES[type], what);
  switch (type) {
    case 'uint8':
      return { type, value: v.getUint8(0) };
    case 'int8':
      return { type, value: v.getInt8(0) };
    case 'uint16':
      return { type, value: v.getUint16(0, true) };
    case 'int16':
      return { type, value: v.getInt16(0, true) };
    case 'uint32':
      return { type, value: v.getUint32(0, true) };
    case 'int32':
      return { type, value: v.getInt32(0, true) };
    case 'float32':
      return { type, value: v.getFloat32(0, true) };
    case 'float64':
      return { type, value: v.getFloat64(0, true) };
    case 'uint64':
      return { type, value: v.getBigUint64(0, true) };
    case 'int64':
      return { type, value: v.getBigInt64(0, true) };
    case 'bool':
      return { type, value: readBool(r, v.getUint8(0), what) };
  }
}

function readBool(r: ByteReader, byte: number, what: string): boolean {
  if (byte > 1) throw r.invalid(`${what} is a bool stored as ${byte}; only 0 and 1 are valid`);
  return byte === 1;
}

function readArray(r: ByteReader, type: GgufScalarType, n: number, what: string): GgufArray {
  const at = (i: number) => `${what} element #${i}`;
  if (type === 'string') {
    const values = new Array<string>(n);
    for (let i = 0; i < n; i++) values[i] = r.string(at(i));
    return { type: 'array', elementType: type, value: values };
  }
  // Elements are fixed-size: the length check above guaranteed they are all in the file.
  const v = r.take(n * GGUF_SCALAR_SIZES[type], `${what} array data`);
  switch (type) {
    case 'uint8':
      return {
        type: 'array',
        elementType: type,
        value: Uint8Array.from({ length: n }, (_, i) => v.getUint8(i)),
      };
    case 'int8':
      return {
        type: 'array',
        elementType: type,
        value: Int8Array.from({ length: n }, (_, i) => v.getInt8(i)),
      };
    case 'uint16':
      return {
        type: 'array',
        elementType: type,
        value: fill(new Uint16Array(n), (i) => v.getUint16(2 * i, true)),
      };
    case 'int16':
      return {
        type: 'array',
        elementType: type,
        value: fill(new Int16Array(n), (i) => v.getInt16(2 * i, true)),
      };
    case 'uint32':
      return {
        type: 'array',
        elementType: type,
        value: fill(new Uint32Array(n), (i) => v.getUint32(4 * i, true)),
      };
    case 'int32':
      return {
        type: 'array',
        elementType: type,
        value: fill(new Int32Array(n), (i) => v.getInt32(4 * i, true)),
      };
    case 'float32':
      return {
        type: 'array',
        elementType: type,
        value: fill(new Float32Array(n), (i) => v.getFloat32(4 * i, true)),
      };
    case 'float64':
      return {
        type: 'array',
        elementType: type,
        value: fill(new Float64Array(n), (i) => v.getFloat64(8 * i, true)),
      };
    case 'uint64':
      return {
        type: 'array',
        elementType: type,
        value: fill(new BigUint64Array(n), (i) => v.getBigUint64(8 * i, true)),
      };
    case 'int64':
      return {
        type: 'array',
        elementType: type,
        value: fill(new BigInt64Array(n), (i) => v.getBigInt64(8 * i, true)),
      };
    case 'bool': {
      const values = new Array<boolean>(n);
      for (let i = 0; i < n; i++) values[i] = readBool(r, v.getUint8(i), at(i));
      return { type: 'array', elementType: type, value: values };
    }
  }
}

function fill<T extends { length: number; [i: number]: E }, E>(out: T, get: (i: number) => E): T {
  for (let i = 0; i < out.length; i++) out[i] = get(i);
  return out;
}

function readAlignment(r: ByteReader, metadata: ReadonlyMap<string, GgufValue>): number {
  const v = metadata.get('general.alignment');
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (v.type !== 'uint32') {
    throw r.invalid(`general.alignment should be uint32, but the file has ${v.type}`);
  }
  // llama.cpp's gguf.cpp requires a non-zero power of two.
  if (v.value === 0 || (v.value & (v.value - 1)) !== 0) {
    throw r.invalid(`general.alignment is ${v.value}; it must be a power of two`);
  }
  return v.value;
}

interface RawTensorInfo {
  name: string;
  type: number;
  typeName: GgufTensorInfo['typeName'];
  shape: number[];
  nElements: number;
  relativeOffset: number;
  byteLength: number;
}

function readTensorInfo(r: ByteReader, i: number, alignment: number): RawTensorInfo {
  const name = r.string(`tensor #${i} name`);
  const what = `tensor #${i} (${name})`;
  const nDims = r.u32(`${what} n_dims`);
  if (nDims === 0 || nDims > MAX_DIMS) {
    throw r.invalid(`${what} has n_dims ${nDims}; expected 1 to ${MAX_DIMS}`);
  }
  const shape: number[] = [];
  let nElements = 1n;
  for (let d = 0; d < nDims; d++) {
    const dim = r.u64(`${what} dimension ${d}`);
    if (dim === 0n || dim >= INT64_SIGN) {
      throw r.invalid(`${what} dimension ${d} is ${BigInt.asIntN(64, dim)}; dimensions must be positive`);
    }
    nElements *= dim;
    if (nElements > MAX_SAFE) {
      throw r.invalid(`${what} element count overflows: the product of its dimensions exceeds 2^53 - 1`);
    }
    shape.push(Number(dim));
  }
  const type = r.u32(`${what} type`);
  const traits = tensorTypeTraits(type);
  if (traits === undefined) {
    const known = tensorTypeName(type);
    throw r.unsupported(
      known === 'unknown'
        ? `tensor ${name} has unknown type id ${type}; supported: ${supportedTensorTypeList()}`
        : `tensor ${name} has type ${known} (id ${type}), which Ternion does not support; supported: ${supportedTensorTypeList()}`,
      'convert the model to TQ2_0, TQ1_0 or I2_S ternary weights',
    );
  }
  if (shape[0]! % traits.blockSize !== 0) {
    throw r.invalid(
      `${what} has ne0 = ${shape[0]}, not a multiple of the ${traits.name} block size ${traits.blockSize}`,
    );
  }
  const relativeOffset = r.u64Number(`${what} offset`);
  if (relativeOffset % alignment !== 0) {
    throw r.invalid(`${what} offset ${relativeOffset} is not a multiple of the alignment ${alignment}`);
  }
  return {
    name,
    type,
    typeName: traits.name,
    shape,
    nElements: Number(nElements),
    relativeOffset,
    byteLength: tensorByteLength(traits, Number(nElements)),
  };
}

function checkNoOverlap(r: ByteReader, tensors: GgufTensorInfo[]): void {
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (prev.offset + prev.byteLength > cur.offset) {
      throw r.invalid(
        `tensor ${cur.name} data [${cur.offset}, ${cur.offset + cur.byteLength}) overlaps tensor ${prev.name} ` +
          `[${prev.offset}, ${prev.offset + prev.byteLength})`,
      );
    }
  }
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
