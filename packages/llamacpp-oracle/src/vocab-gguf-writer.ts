/**
 * A minimal GGUF v3 writer for vocabulary-only test files: metadata key/values, no tensors
 * (format: ggml/docs/gguf.md). Kept here, not shared, because it only needs the few value types a
 * tokenizer uses.
 */
export type VocabGgufValue =
  | { type: 'string'; value: string }
  | { type: 'uint32'; value: number }
  | { type: 'float32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'int32[]'; value: ArrayLike<number> }
  | { type: 'float32[]'; value: ArrayLike<number> };

const TYPE_UINT32 = 4;
const TYPE_INT32 = 5;
const TYPE_FLOAT32 = 6;
const TYPE_BOOL = 7;
const TYPE_STRING = 8;
const TYPE_ARRAY = 9;
const ALIGNMENT = 32;

export function writeVocabGguf(entries: ReadonlyArray<readonly [string, VocabGgufValue]>): Uint8Array {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (bytes: Uint8Array) => {
    chunks.push(bytes);
    total += bytes.length;
  };
  const fixed = (size: number, write: (view: DataView) => void) => {
    const bytes = new Uint8Array(size);
    write(new DataView(bytes.buffer));
    push(bytes);
  };
  const u32 = (v: number) => fixed(4, (d) => d.setUint32(0, v, true));
  const u64 = (v: number) => fixed(8, (d) => d.setBigUint64(0, BigInt(v), true));
  const str = (s: string) => {
    const bytes = encoder.encode(s);
    u64(bytes.length);
    push(bytes);
  };
  const numbers = (values: ArrayLike<number>, set: (d: DataView, at: number, v: number) => void) =>
    fixed(4 * values.length, (d) => {
      for (let i = 0; i < values.length; i++) set(d, 4 * i, values[i] as number);
    });

  push(encoder.encode('GGUF'));
  u32(3); // version
  u64(0); // tensor count
  u64(entries.length);
  for (const [key, entry] of entries) {
    str(key);
    switch (entry.type) {
      case 'string':
        u32(TYPE_STRING);
        str(entry.value);
        break;
      case 'uint32':
        u32(TYPE_UINT32);
        u32(entry.value);
        break;
      case 'float32':
        u32(TYPE_FLOAT32);
        fixed(4, (d) => d.setFloat32(0, entry.value, true));
        break;
      case 'bool':
        u32(TYPE_BOOL);
        fixed(1, (d) => d.setUint8(0, entry.value ? 1 : 0));
        break;
      case 'string[]':
        u32(TYPE_ARRAY);
        u32(TYPE_STRING);
        u64(entry.value.length);
        for (const s of entry.value) str(s);
        break;
      case 'int32[]':
        u32(TYPE_ARRAY);
        u32(TYPE_INT32);
        u64(entry.value.length);
        numbers(entry.value, (d, at, v) => d.setInt32(at, v, true));
        break;
      case 'float32[]':
        u32(TYPE_ARRAY);
        u32(TYPE_FLOAT32);
        u64(entry.value.length);
        numbers(entry.value, (d, at, v) => d.setFloat32(at, v, true));
        break;
    }
  }
  push(new Uint8Array((ALIGNMENT - (total % ALIGNMENT)) % ALIGNMENT)); // empty data section starts aligned

  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
