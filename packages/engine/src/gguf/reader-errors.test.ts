import { describe, expect, test } from 'vitest';
import { ByteWriter } from './byte-writer.js';
import { parseGguf } from './reader.js';
import { expectGgufError } from './test-files.fixture.js';
import { GgufWriter } from './writer.js';

interface RawTensor {
  name: string;
  dims: readonly (number | bigint)[];
  type: number;
  offset: number | bigint;
  nDims?: number;
}

interface RawFile {
  magic?: number[];
  version?: number;
  nTensors?: number | bigint;
  nKv?: number | bigint;
  /** Writes the key/value section verbatim. */
  kv?: (w: ByteWriter) => void;
  tensors?: RawTensor[];
  dataBytes?: number;
}

/** Hand-assembles a GGUF file, including ones the writer would refuse to produce. */
function rawFile(f: RawFile): Uint8Array {
  const w = new ByteWriter();
  for (const b of f.magic ?? [0x47, 0x47, 0x55, 0x46]) w.u8(b);
  w.u32(f.version ?? 3);
  const tensors = f.tensors ?? [];
  w.u64(f.nTensors ?? tensors.length);
  w.u64(f.nKv ?? (f.kv ? 1 : 0));
  f.kv?.(w);
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.nDims ?? t.dims.length);
    for (const d of t.dims) w.u64(BigInt.asUintN(64, BigInt(d)));
    w.u32(t.type);
    w.u64(t.offset);
  }
  w.pad(32);
  for (let i = 0; i < (f.dataBytes ?? 0); i++) w.u8(0);
  return w.result().slice();
}

function kvString(key: string, value: string) {
  return (w: ByteWriter) => {
    w.string(key);
    w.u32(8);
    w.string(value);
  };
}

const f32 = (name: string, dims: number[], offset: number | bigint = 0): RawTensor => ({
  name,
  dims,
  type: 0,
  offset,
});

describe('parseGguf refuses broken files with a GgufError naming the file and the field', () => {
  test('a valid hand-assembled file parses (the fixtures below differ from it in one field)', () => {
    const file = parseGguf(
      rawFile({ kv: kvString('general.architecture', 'bitnet'), tensors: [f32('a', [8])], dataBytes: 32 }),
    );
    expect(file.requireTensor('a').byteLength).toBe(32);
  });

  test('truncated files say what was being read and where', () => {
    const keys = new GgufWriter()
      .setString('general.architecture', 'bitnet')
      .setString('general.name', 'tiny')
      .toBytes();
    const cut = (bytes: Uint8Array, n: number) => () => parseGguf(bytes.subarray(0, n), 'cut.gguf');
    expectGgufError(cut(keys, 3), 'GGUF_INVALID', /cut\.gguf is truncated: reading the magic number/);
    expectGgufError(cut(keys, 6), 'GGUF_INVALID', /truncated: reading the version at offset 4/);
    expectGgufError(cut(keys, 20), 'GGUF_INVALID', /truncated: reading the metadata key count \(n_kv\)/);
    // key #0 = "general.architecture" (8 + 20 bytes), type (4), "bitnet" (8 + 6): ends at 24 + 46 = 70.
    expectGgufError(
      cut(keys, 75),
      'GGUF_INVALID',
      /truncated: reading key #1 name length at offset 70 needs 8 bytes, but the file ends 5 bytes later \(file size 75\)/,
    );
    expectGgufError(
      cut(keys, 70 + 8 + 12 + 2),
      'GGUF_INVALID',
      /truncated: reading key #1 \(general\.name\) value type/,
    );
    expectGgufError(
      cut(keys, 70 + 8 + 12 + 4 + 9),
      'GGUF_INVALID',
      /key #1 \(general\.name\) value at offset 94 claims 4 bytes, but only 1 bytes remain/,
    );

    const name = 'blk.0.a_rather_long_tensor_name.weight';
    const tensor = new GgufWriter().addTensor(name, 'F32', [8], new Uint8Array(32)).toBytes();
    expectGgufError(
      cut(tensor, 24 + 8 + 30),
      'GGUF_INVALID',
      new RegExp(`tensor #0 name at offset 24 claims ${name.length} bytes, but only 30 bytes remain`),
    );
    expectGgufError(
      cut(tensor, 24 + 8 + name.length + 2),
      'GGUF_INVALID',
      /truncated: reading tensor #0 \(blk\.0\.a_rather_long_tensor_name\.weight\) n_dims/,
    );
    expectGgufError(
      cut(tensor, 24 + 8 + name.length + 4 + 8 + 4 + 3),
      'GGUF_INVALID',
      /truncated: reading tensor #0 \(.*\) offset/,
    );
    expectGgufError(
      cut(tensor, tensor.byteLength - 4),
      'GGUF_INVALID',
      /cut\.gguf: tensor blk\.0\.a_rather_long_tensor_name\.weight data \[\d+, \d+\) lies outside the file/,
    );
    expectGgufError(
      cut(tensor, 30),
      'GGUF_INVALID',
      /n_tensors is 1, but the 6 bytes after the header hold at most 0 tensor infos \(truncated or corrupt file\)/,
    );
    expectGgufError(
      cut(keys, 40),
      'GGUF_INVALID',
      /n_kv is 2, but the 16 bytes after the header hold at most 1 key\/value pairs/,
    );
  });

  test('bad magic shows the four bytes read', () => {
    const elf = rawFile({ magic: [0x7f, 0x45, 0x4c, 0x46] });
    expectGgufError(
      () => parseGguf(elf, 'x.bin'),
      'GGUF_INVALID',
      /x\.bin: bad magic: expected "GGUF" \(47 47 55 46\), found 7f 45 4c 46 \("\.ELF"\)/,
    );
  });

  test('unsupported versions', () => {
    expectGgufError(
      () => parseGguf(rawFile({ version: 1 })),
      'GGUF_UNSUPPORTED',
      /GGUF version 1 \(32-bit counts\) is not supported/,
    );
    expectGgufError(
      () => parseGguf(rawFile({ version: 4 })),
      'GGUF_UNSUPPORTED',
      /unsupported GGUF version 4; supported: 2, 3/,
    );
    expectGgufError(
      () => parseGguf(rawFile({ version: 0x0300_0000 })),
      'GGUF_UNSUPPORTED',
      /big-endian GGUF v3/,
    );
    expect(parseGguf(rawFile({ version: 2 })).version).toBe(2);
  });

  test('absurd counts are refused before allocating', () => {
    expectGgufError(
      () => parseGguf(rawFile({ nTensors: 1n << 40n })),
      'GGUF_INVALID',
      /n_tensors is 1099511627776, but the \d+ bytes after the header hold at most 0 tensor infos/,
    );
    expectGgufError(() => parseGguf(rawFile({ nKv: 1n << 40n })), 'GGUF_INVALID', /n_kv is 1099511627776/);
    expectGgufError(
      () => parseGguf(rawFile({ nTensors: 1n << 60n })),
      'GGUF_INVALID',
      /the tensor count \(n_tensors\) is 1152921504606846976, more than 2\^53 - 1/,
    );
    const hugeKey = (w: ByteWriter) => {
      w.u64(1n << 40n);
    };
    expectGgufError(
      () => parseGguf(rawFile({ kv: hugeKey, dataBytes: 64 })),
      'GGUF_INVALID',
      /key #0 name at offset 24 claims 1099511627776 bytes/,
    );
    const hugeValue = (w: ByteWriter) => {
      w.string('k');
      w.u32(8);
      w.u64(1n << 33n);
    };
    expectGgufError(
      () => parseGguf(rawFile({ kv: hugeValue, dataBytes: 64 })),
      'GGUF_INVALID',
      /key #0 \(k\) value at offset \d+ claims 8589934592 bytes/,
    );
    const hugeArray = (w: ByteWriter) => {
      w.string('k');
      w.u32(9);
      w.u32(4);
      w.u64(1n << 40n);
    };
    expectGgufError(
      () => parseGguf(rawFile({ kv: hugeArray, dataBytes: 64 })),
      'GGUF_INVALID',
      /key #0 \(k\) is an array of 1099511627776 uint32 values \(at least 4398046511104 bytes\)/,
    );
    const hugeStrings = (w: ByteWriter) => {
      w.string('k');
      w.u32(9);
      w.u32(8);
      w.u64(100);
    };
    expectGgufError(
      () => parseGguf(rawFile({ kv: hugeStrings, dataBytes: 64 })),
      'GGUF_INVALID',
      /is an array of 100 string values \(at least 800 bytes\)/,
    );
  });

  test('unknown and unsupported value types, bad bools, bad UTF-8, duplicate keys', () => {
    const typed = (type: number, body: (w: ByteWriter) => void) => (w: ByteWriter) => {
      w.string('my.key');
      w.u32(type);
      body(w);
    };
    expectGgufError(
      () => parseGguf(rawFile({ kv: typed(13, (w) => w.u32(0)) })),
      'GGUF_INVALID',
      /key #0 \(my\.key\) has unknown value type id 13/,
    );
    const arrayOf = (element: number) =>
      typed(9, (w) => {
        w.u32(element);
        w.u64(0);
      });
    expectGgufError(
      () => parseGguf(rawFile({ kv: arrayOf(77) })),
      'GGUF_INVALID',
      /my\.key\) is an array of unknown value type id 77/,
    );
    expectGgufError(
      () => parseGguf(rawFile({ kv: arrayOf(9) })),
      'GGUF_UNSUPPORTED',
      /my\.key\) is an array of arrays/,
    );
    expectGgufError(
      () => parseGguf(rawFile({ kv: typed(7, (w) => w.u8(2)) })),
      'GGUF_INVALID',
      /key #0 \(my\.key\) value is a bool stored as 2/,
    );
    const badUtf8 = (w: ByteWriter) => {
      w.u64(2);
      w.u8(0xc3);
      w.u8(0x28);
      w.u32(4);
      w.u32(1);
    };
    expectGgufError(
      () => parseGguf(rawFile({ kv: badUtf8 })),
      'GGUF_INVALID',
      /key #0 name at offset 24 is not valid UTF-8/,
    );
    const twice = (w: ByteWriter) => {
      kvString('a.b', 'x')(w);
      kvString('a.b', 'y')(w);
    };
    expectGgufError(
      () => parseGguf(rawFile({ kv: twice, nKv: 2 })),
      'GGUF_INVALID',
      /key #1 \(a\.b\) appears twice/,
    );
  });

  test('general.alignment must be a uint32 power of two', () => {
    const alignment = (type: number, write: (w: ByteWriter) => void) => (w: ByteWriter) => {
      w.string('general.alignment');
      w.u32(type);
      write(w);
    };
    expectGgufError(
      () => parseGguf(rawFile({ kv: alignment(10, (w) => w.u64(32)) })),
      'GGUF_INVALID',
      /general\.alignment should be uint32, but the file has uint64/,
    );
    expectGgufError(
      () => parseGguf(rawFile({ kv: alignment(4, (w) => w.u32(48)) })),
      'GGUF_INVALID',
      /general\.alignment is 48; it must be a power of two/,
    );
    expectGgufError(
      () => parseGguf(rawFile({ kv: alignment(4, (w) => w.u32(0)) })),
      'GGUF_INVALID',
      /general\.alignment is 0/,
    );
    const file = parseGguf(
      rawFile({ kv: alignment(4, (w) => w.u32(64)), tensors: [f32('t', [4], 64)], dataBytes: 128 }),
    );
    expect(file.alignment).toBe(64);
    expect(file.dataOffset % 64).toBe(0);
    expect(file.requireTensor('t').offset).toBe(file.dataOffset + 64);
  });

  test('tensor info errors name the tensor', () => {
    const one =
      (t: RawTensor, dataBytes = 256) =>
      () =>
        parseGguf(rawFile({ tensors: [t], dataBytes }), 'm.gguf');
    expectGgufError(
      one({ ...f32('a', [4]), nDims: 0, dims: [] }),
      'GGUF_INVALID',
      /m\.gguf: tensor #0 \(a\) has n_dims 0; expected 1 to 4/,
    );
    expectGgufError(
      one(f32('a', [1, 1, 1, 1, 1])),
      'GGUF_INVALID',
      /tensor #0 \(a\) has n_dims 5; expected 1 to 4/,
    );
    expectGgufError(
      one(f32('a', [4, 0])),
      'GGUF_INVALID',
      /tensor #0 \(a\) dimension 1 is 0; dimensions must be positive/,
    );
    expectGgufError(
      one({ name: 'a', dims: [4, -1n], type: 0, offset: 0 }),
      'GGUF_INVALID',
      /dimension 1 is -1; dimensions must be positive/,
    );
    expectGgufError(
      one(f32('a', [1 << 30, 1 << 30, 1 << 30])),
      'GGUF_INVALID',
      /tensor #0 \(a\) element count overflows/,
    );
    expectGgufError(
      one({ name: 'w', dims: [100, 2], type: 35, offset: 0 }),
      'GGUF_INVALID',
      /tensor #0 \(w\) has ne0 = 100, not a multiple of the TQ2_0 block size 256/,
    );
    expectGgufError(
      one({ name: 'blk.0.attn_q.weight', dims: [256, 256], type: 12, offset: 0 }),
      'GGUF_UNSUPPORTED',
      /tensor blk\.0\.attn_q\.weight has type Q4_K \(id 12\), which Ternion does not support; supported: F32, F16, Q8_0, BF16, TQ1_0, TQ2_0, I2_S$/,
    );
    expectGgufError(
      one({ name: 'w', dims: [256], type: 99, offset: 0 }),
      'GGUF_UNSUPPORTED',
      /tensor w has unknown type id 99; supported: F32/,
    );
    expectGgufError(
      one(f32('a', [4], 16)),
      'GGUF_INVALID',
      /tensor #0 \(a\) offset 16 is not a multiple of the alignment 32/,
    );
    expectGgufError(
      one(f32('a', [4], 1n << 60n)),
      'GGUF_INVALID',
      /tensor #0 \(a\) offset is 1152921504606846976, more than 2\^53 - 1/,
    );
    expectGgufError(
      one(f32('a', [128]), 256),
      'GGUF_INVALID',
      /m\.gguf: tensor a data \[\d+, \d+\) lies outside the file \(size \d+\)/,
    );
    expectGgufError(one(f32('a', [1]), 0), 'GGUF_INVALID', /tensor a data .* lies outside the file/);
  });

  test('overlapping tensors and duplicate names', () => {
    const overlap = rawFile({ tensors: [f32('a', [16], 0), f32('b', [16], 32)], dataBytes: 256 });
    expectGgufError(
      () => parseGguf(overlap, 'o.gguf'),
      'GGUF_INVALID',
      /o\.gguf: tensor b data \[\d+, \d+\) overlaps tensor a/,
    );
    const adjacent = rawFile({ tensors: [f32('a', [8], 0), f32('b', [8], 32)], dataBytes: 64 });
    expect(parseGguf(adjacent).tensors.size).toBe(2);
    const dup = rawFile({ tensors: [f32('a', [8], 0), f32('a', [8], 32)], dataBytes: 64 });
    expectGgufError(() => parseGguf(dup), 'GGUF_INVALID', /tensor #1 \(a\) appears twice/);
  });
});
