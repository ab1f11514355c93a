import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { openGguf, parseGguf } from './reader.js';
import { type GgmlTypeName, SUPPORTED_TENSOR_TYPES } from './tensor-types.js';
import { pseudoRandomBytes, TARGET_MODEL } from './test-files.fixture.js';
import type { GgufScalarType } from './value-types.js';
import { type GgufArrayInput, GgufWriter } from './writer.js';

const dir = mkdtempSync(join(tmpdir(), 'ternion-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GgufWriter → parseGguf round trip', () => {
  test('every scalar type, with its extreme values', () => {
    const w = new GgufWriter()
      .setU8('t.u8', 255)
      .setI8('t.i8', -128)
      .setU16('t.u16', 65535)
      .setI16('t.i16', -32768)
      .setU32('t.u32', 0xffff_ffff)
      .setI32('t.i32', -0x8000_0000)
      .setF32('t.f32', 0.1)
      .setBool('t.bool', false)
      .setString('t.string', 'héllo ▁world 🙂')
      .setString('t.empty', '')
      .setU64('t.u64', (1n << 64n) - 1n)
      .setI64('t.i64', -(1n << 63n))
      .setU64('t.u64small', 5)
      .setF64('t.f64', Math.PI);
    const file = parseGguf(w.toBytes());
    const values = Object.fromEntries([...file.metadata].map(([k, v]) => [k, [v.type, v.value]]));
    expect(values).toEqual({
      't.u8': ['uint8', 255],
      't.i8': ['int8', -128],
      't.u16': ['uint16', 65535],
      't.i16': ['int16', -32768],
      't.u32': ['uint32', 0xffff_ffff],
      't.i32': ['int32', -0x8000_0000],
      't.f32': ['float32', Math.fround(0.1)],
      't.bool': ['bool', false],
      't.string': ['string', 'héllo ▁world 🙂'],
      't.empty': ['string', ''],
      't.u64': ['uint64', (1n << 64n) - 1n],
      't.i64': ['int64', -(1n << 63n)],
      't.u64small': ['uint64', 5n],
      't.f64': ['float64', Math.PI],
    });
  });

  test('every array element type, including empty arrays', () => {
    const inputs: { [T in GgufScalarType]: GgufArrayInput[T] } = {
      uint8: [0, 1, 255],
      int8: [-128, 0, 127],
      uint16: [0, 65535],
      int16: [-32768, 32767],
      uint32: [0, 0xffff_ffff],
      int32: [-0x8000_0000, 0x7fff_ffff],
      float32: [1.5, -0, Number.POSITIVE_INFINITY, 0.1],
      bool: [true, false, true],
      string: ['', 'a', '▁the', '<0x0A>'],
      uint64: [0n, (1n << 64n) - 1n, 7],
      int64: [-(1n << 63n), (1n << 63n) - 1n, -7],
      float64: [Math.E, -1e300],
    };
    const w = new GgufWriter();
    for (const [type, values] of Object.entries(inputs)) {
      w.setArray(`a.${type}`, type as GgufScalarType, values as never);
      w.setArray(`empty.${type}`, type as GgufScalarType, [] as never);
    }
    const file = parseGguf(w.toBytes());
    for (const [type, values] of Object.entries(inputs)) {
      const got = file.getTypedArray(`a.${type}`, type as GgufScalarType);
      const expected = Array.from(values as ArrayLike<unknown>, (v) =>
        type === 'uint64' || type === 'int64'
          ? BigInt(v as number)
          : type === 'float32'
            ? Math.fround(v as number)
            : v,
      );
      expect(Array.from(got as ArrayLike<unknown>), type).toEqual(expected);
      expect(file.getArray(`empty.${type}`).value).toHaveLength(0);
    }
    expect(file.getTypedArray('a.float32', 'float32')).toBeInstanceOf(Float32Array);
    expect(file.getTypedArray('a.uint64', 'uint64')).toBeInstanceOf(BigUint64Array);
  });

  test('keys keep their first-set order; setting a key again replaces its value in place', () => {
    const w = new GgufWriter().setU32('z', 1).setString('a', 'x').setBool('m', true).setU32('z', 2);
    const file = parseGguf(w.toBytes());
    expect([...file.metadata.keys()]).toEqual(['z', 'a', 'm']);
    expect(file.getU32('z')).toBe(2);
  });

  test('a value read from a file can be set as is', () => {
    const source = parseGguf(new GgufWriter().setArray('s', 'string', ['a', 'b']).setI64('i', -3n).toBytes());
    const w = new GgufWriter();
    for (const [k, v] of source.metadata) w.set(k, v);
    expect(w.toBytes()).toEqual(source.bytes);
  });

  test('every supported tensor type keeps its bytes, at aligned offsets', () => {
    const shapes: Record<GgmlTypeName, number[]> = {
      F32: [3, 5],
      F16: [7],
      Q8_0: [64, 3],
      BF16: [2, 2, 2, 2],
      TQ1_0: [256, 3],
      TQ2_0: [512, 2],
      I2_S: [128, 3],
    };
    const expectedBytes: Record<GgmlTypeName, number> = {
      F32: 60,
      F16: 14,
      Q8_0: 6 * 34,
      BF16: 32,
      TQ1_0: 3 * 54,
      TQ2_0: 4 * 66,
      I2_S: (128 * 3) / 4 + 32,
    };
    const w = new GgufWriter();
    const data = new Map<string, Uint8Array>();
    for (const [i, traits] of SUPPORTED_TENSOR_TYPES.entries()) {
      const bytes = pseudoRandomBytes(expectedBytes[traits.name], i + 1);
      data.set(traits.name, bytes);
      w.addTensor(`t.${traits.name}`, traits.id, shapes[traits.name], bytes);
    }
    const file = parseGguf(w.toBytes());
    expect(file.tensors.size).toBe(SUPPORTED_TENSOR_TYPES.length);
    for (const traits of SUPPORTED_TENSOR_TYPES) {
      const t = file.requireTensor(`t.${traits.name}`);
      expect([t.type, t.typeName, t.shape, t.byteLength]).toEqual([
        traits.id,
        traits.name,
        shapes[traits.name],
        expectedBytes[traits.name],
      ]);
      expect(t.offset % 32).toBe(0);
      expect(t.data()).toEqual(data.get(traits.name));
    }
    expect(file.bytes.byteLength % 32).toBe(0);
  });

  test('general.alignment is honoured', () => {
    const w = new GgufWriter()
      .setU32('general.alignment', 256)
      .addTensor('a', 'F32', [3], new Uint8Array(12))
      .addTensor('b', 'F32', [3], new Uint8Array(12).fill(1));
    expect(w.alignment).toBe(256);
    const file = parseGguf(w.toBytes());
    expect(file.alignment).toBe(256);
    expect(file.dataOffset % 256).toBe(0);
    expect(file.requireTensor('b').offset - file.requireTensor('a').offset).toBe(256);
    expect(file.requireTensor('b').data()).toEqual(new Uint8Array(12).fill(1));
  });

  test('rebuilding the shared model from its parsed contents reproduces the file byte for byte', () => {
    const source = openGguf(TARGET_MODEL);
    const w = new GgufWriter();
    for (const [k, v] of source.metadata) w.set(k, v);
    for (const t of source.tensors.values()) w.addTensor(t.name, t.type, t.shape, t.data());
    const rebuilt = w.toBytes();
    expect(rebuilt.byteLength).toBe(source.bytes.byteLength);
    expect(Buffer.compare(rebuilt, source.bytes)).toBe(0);
  });
});

describe('GgufWriter.write', () => {
  test('streams the same bytes as toBytes, producing lazy tensors one at a time', async () => {
    const calls: string[] = [];
    const lazy = (name: string, n: number, seed: number) => () => {
      calls.push(name);
      return pseudoRandomBytes(n, seed);
    };
    const w = new GgufWriter()
      .setString('general.architecture', 'bitnet')
      .addTensor('a', 'TQ2_0', [256, 4], lazy('a', 4 * 66, 1))
      .addTensor('b', 'F32', [5], lazy('b', 20, 2))
      .addTensor('c', 'I2_S', [256, 2], pseudoRandomBytes(128 + 32, 3));
    expect(calls).toEqual([]);
    const path = join(dir, 'lazy.gguf');
    await w.write(path);
    expect(calls).toEqual(['a', 'b']);
    const onDisk = readFileSync(path);
    expect(Buffer.compare(onDisk, w.toBytes())).toBe(0);
    const file = openGguf(path);
    expect(file.requireTensor('c').data()).toEqual(pseudoRandomBytes(160, 3));
    expect(readdirSync(dir).filter((f) => f.includes('.partial'))).toEqual([]);
  });

  test('a data function returning the wrong size fails the write and leaves no file behind', async () => {
    const w = new GgufWriter().addTensor('a', 'F32', [4], () => new Uint8Array(15));
    const path = join(dir, 'bad.gguf');
    await expect(w.write(path)).rejects.toThrow(
      /GgufWriter\.addTensor\(a\): F32 \[4\] needs 16 bytes, got 15/,
    );
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('bad.gguf'))).toEqual([]);
    await expect(new GgufWriter().write('')).rejects.toThrow(TypeError);
  });
});

describe('GgufWriter argument errors', () => {
  const w = () => new GgufWriter();

  test('metadata values are type- and range-checked, naming the key', () => {
    expect(() => w().setU8('k', 256)).toThrow(
      new RangeError('GgufWriter: key k (uint8) must be in [0, 255], got 256'),
    );
    expect(() => w().setI32('k', 1.5)).toThrow(/key k \(int32\) expects an integer, got 1\.5/);
    expect(() => w().setU32('k', -1)).toThrow(RangeError);
    expect(() => w().setU64('k', -1n)).toThrow(RangeError);
    expect(() => w().setU64('k', 2 ** 60)).toThrow(/bigint or a safe integer/);
    expect(() => w().setI64('k', 1n << 63n)).toThrow(RangeError);
    expect(() => w().setString('k', 3 as unknown as string)).toThrow(TypeError);
    expect(() => w().setBool('k', 1 as unknown as boolean)).toThrow(TypeError);
    expect(() => w().setF32('k', '1' as unknown as number)).toThrow(TypeError);
    expect(() => w().setString('', 'x')).toThrow(/key must be a non-empty string/);
    expect(() => w().setArray('k', 'uint16', [1, 70000])).toThrow(
      /key k\[1\] \(uint16\) must be in \[0, 65535\], got 70000/,
    );
    expect(() => w().setArray('k', 'string', ['a', 5 as unknown as string])).toThrow(
      /key k\[1\] \(string\) expects a string/,
    );
    expect(() => w().setArray('k', 'array' as GgufScalarType, [])).toThrow(/arrays of arrays/);
    expect(() => w().setArray('k', 'uint8', 5 as unknown as number[])).toThrow(TypeError);
    expect(() => w().set('k', { type: 'float16', value: 1 } as never)).toThrow(
      /unknown value type "float16"/,
    );
  });

  test('general.alignment must be a uint32 power of two', () => {
    expect(() => w().setU32('general.alignment', 48)).toThrow(/power of two, got 48/);
    expect(() => w().setU64('general.alignment', 32)).toThrow(
      /general\.alignment must be uint32, got uint64/,
    );
    expect(() => w().setArray('general.alignment', 'uint32', [32])).toThrow(
      /general\.alignment must be uint32, got array/,
    );
  });

  test('tensors are checked against their type', () => {
    expect(() => w().addTensor('a', 'F32', [4], new Uint8Array(12))).toThrow(
      new RangeError('GgufWriter.addTensor(a): F32 [4] needs 16 bytes, got 12'),
    );
    expect(() => w().addTensor('a', 12, [256], new Uint8Array(144))).toThrow(
      /type Q4_K \(id 12\) is not supported; expected one of F32, F16, Q8_0, BF16, TQ1_0, TQ2_0, I2_S/,
    );
    expect(() => w().addTensor('a', 'Q4_K' as GgmlTypeName, [256], new Uint8Array(144))).toThrow(
      /type "Q4_K" is not supported/,
    );
    expect(() => w().addTensor('a', 'TQ2_0', [100], new Uint8Array(66))).toThrow(
      /ne0 = 100 must be a multiple of the TQ2_0 block size 256/,
    );
    expect(() => w().addTensor('a', 'F32', [], new Uint8Array(4))).toThrow(/1 to 4 dimensions/);
    expect(() => w().addTensor('a', 'F32', [1, 1, 1, 1, 1], new Uint8Array(4))).toThrow(/1 to 4 dimensions/);
    expect(() => w().addTensor('a', 'F32', [4, 0], new Uint8Array(0))).toThrow(
      /shape\[1\] must be a positive integer, got 0/,
    );
    expect(() => w().addTensor('a', 'F32', [2 ** 27, 2 ** 27], new Uint8Array(0))).toThrow(
      /element count exceeds/,
    );
    expect(() => w().addTensor('', 'F32', [1], new Uint8Array(4))).toThrow(TypeError);
    expect(() => w().addTensor('x'.repeat(64), 'F32', [1], new Uint8Array(4))).toThrow(
      /at most 63 UTF-8 bytes/,
    );
    expect(() => w().addTensor('a', 'F32', [1], [0, 0, 0, 0] as unknown as Uint8Array)).toThrow(TypeError);
    const one = w().addTensor('a', 'F32', [1], new Uint8Array(4));
    expect(() => one.addTensor('a', 'F32', [1], new Uint8Array(4))).toThrow(/tensor already added/);
  });
});
