import { statSync } from 'node:fs';
import { TernionError } from '@ternion/contracts';
import { describe, expect, test } from 'vitest';
import { GgufError } from './errors.js';
import { openGguf, parseGguf } from './reader.js';
import { DRAFT_MODEL, expectGgufError, smallWriter, TARGET_MODEL } from './test-files.fixture.js';

describe('openGguf on the shared tiny models', () => {
  const file = openGguf(TARGET_MODEL);

  test('header and metadata match the model README', () => {
    expect(file.path).toBe(TARGET_MODEL);
    expect(file.version).toBe(3);
    expect(file.alignment).toBe(32);
    expect(file.bytes.byteLength).toBe(3_401_472);
    expect(file.getString('general.architecture')).toBe('bitnet');
    expect(file.getU32('general.file_type')).toBe(37);
    expect(file.getU32('bitnet.vocab_size')).toBe(2048);
    expect(file.getU32('bitnet.embedding_length')).toBe(256);
    expect(file.getU32('bitnet.block_count')).toBe(6);
    expect(file.getU32('bitnet.feed_forward_length')).toBe(768);
    expect(file.getU32('bitnet.attention.head_count')).toBe(4);
    expect(file.getU32('bitnet.attention.head_count_kv')).toBe(2);
    expect(file.getU32('bitnet.context_length')).toBe(256);
    expect(file.getU32('bitnet.rope.dimension_count')).toBe(64);
    expect(file.getF32('bitnet.rope.freq_base')).toBe(10_000);
    expect(file.getF32('bitnet.attention.layer_norm_rms_epsilon')).toBeCloseTo(1e-5, 10);
    expect(file.getString('tokenizer.ggml.model')).toBe('llama');
    expect(file.getBool('tokenizer.ggml.add_bos_token')).toBe(true);
    expect(file.getBool('tokenizer.ggml.add_eos_token')).toBe(false);
    const tokens = file.getStringArray('tokenizer.ggml.tokens');
    expect(tokens).toHaveLength(2048);
    expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(file.getTypedArray('tokenizer.ggml.scores', 'float32')).toBeInstanceOf(Float32Array);
    const types = file.getTypedArray('tokenizer.ggml.token_type', 'int32');
    expect([types[0], types[1], types[2], types[3], types[258]]).toEqual([2, 3, 3, 6, 6]);
  });

  test('tensor names, types and shapes match the README', () => {
    // 2 global tensors + 11 per layer, no output.weight (tied embedding).
    expect(file.tensors.size).toBe(2 + 6 * 11);
    expect(file.tensor('output.weight')).toBeUndefined();
    const embd = file.requireTensor('token_embd.weight');
    expect([embd.typeName, embd.type, embd.shape, embd.nElements, embd.byteLength]).toEqual([
      'F32',
      0,
      [256, 2048],
      256 * 2048,
      256 * 2048 * 4,
    ]);
    expect(embd.offset).toBe(file.dataOffset);
    const shapes: Record<string, number[]> = {
      attn_q: [256, 256],
      attn_k: [256, 128],
      attn_v: [256, 128],
      attn_output: [256, 256],
      ffn_gate: [256, 768],
      ffn_up: [256, 768],
      ffn_down: [768, 256],
    };
    for (let layer = 0; layer < 6; layer++) {
      for (const [name, shape] of Object.entries(shapes)) {
        const t = file.requireTensor(`blk.${layer}.${name}.weight`);
        expect(t.typeName).toBe('TQ2_0');
        expect(t.shape).toEqual(shape);
        expect(t.byteLength).toBe(((shape[0]! * shape[1]!) / 256) * 66);
        expect(t.offset % 32).toBe(0);
      }
      for (const norm of ['attn_norm', 'attn_sub_norm', 'ffn_norm']) {
        expect(file.requireTensor(`blk.${layer}.${norm}.weight`).shape).toEqual([256]);
      }
      expect(file.requireTensor(`blk.${layer}.ffn_sub_norm.weight`).shape).toEqual([768]);
    }
    const last = [...file.tensors.values()].at(-1)!;
    expect(last.offset + last.byteLength).toBe(statSync(TARGET_MODEL).size);
  });

  test('data() is a view of the tensor bytes', () => {
    const norm = file.requireTensor('output_norm.weight');
    const data = norm.data();
    expect(data.byteLength).toBe(1024);
    expect(data.buffer).toBe(file.bytes.buffer);
    expect(data.byteOffset).toBe(file.bytes.byteOffset + norm.offset);
    const weights = new Float32Array(data.slice().buffer);
    // RMSNorm gains of a trained model: finite, mostly near 1, not all equal.
    expect(weights.every(Number.isFinite)).toBe(true);
    expect(new Set(weights).size).toBeGreaterThan(1);
  });

  test('the draft model has one layer', () => {
    const draft = openGguf(DRAFT_MODEL);
    expect(draft.getU32('bitnet.block_count')).toBe(1);
    expect(draft.getU32('bitnet.feed_forward_length')).toBe(512);
    expect(draft.tensors.size).toBe(2 + 11);
  });
});

describe('typed getters', () => {
  const file = parseGguf(smallWriter().toBytes(), 'small.gguf');

  test('return values, fallbacks when missing', () => {
    expect(file.getString('general.name')).toBe('tiny ✓');
    expect(file.getU64('general.size')).toBe(123456789012);
    expect(file.getU32('missing.key', 7)).toBe(7);
    expect(file.getString('missing.key', 'x')).toBe('x');
    expect(file.getF32('missing.key', 0.5)).toBe(0.5);
    expect(file.getBool('missing.key', false)).toBe(false);
    expect(file.has('general.name')).toBe(true);
    expect(file.get('missing.key')).toBeUndefined();
  });

  test('missing keys and wrong types name the key and the types', () => {
    expectGgufError(
      () => file.getU32('bitnet.embedding_length'),
      'GGUF_INVALID',
      /small\.gguf: metadata key bitnet\.embedding_length is missing/,
    );
    expectGgufError(
      () => file.getU32('general.name'),
      'GGUF_INVALID',
      /general\.name should be uint32, but the file has string/,
    );
    expectGgufError(
      () => file.getString('bitnet.block_count'),
      'GGUF_INVALID',
      /should be string, but the file has uint32/,
    );
    expectGgufError(() => file.getF32('bitnet.block_count'), 'GGUF_INVALID', /should be float32/);
    expectGgufError(() => file.getBool('general.name'), 'GGUF_INVALID', /should be bool/);
    expectGgufError(
      () => file.getArray('general.name'),
      'GGUF_INVALID',
      /should be array, but the file has string/,
    );
    expectGgufError(
      () => file.getStringArray('tokenizer.ggml.scores'),
      'GGUF_INVALID',
      /should be array<string>, but the file has array<float32>/,
    );
    expectGgufError(
      () => file.getU32('general.size'),
      'GGUF_INVALID',
      /general\.size is 123456789012 \(uint64\), outside the uint32 range/,
    );
    expectGgufError(() => file.getU32('missing.key', undefined), 'GGUF_INVALID', /missing/);
    expectGgufError(
      () => file.requireTensor('nope.weight'),
      'GGUF_INVALID',
      /tensor nope\.weight is missing/,
    );
  });

  test('GgufError is a TernionError with a code', () => {
    const err = expectGgufError(() => file.getU32('nope'), 'GGUF_INVALID', /nope/);
    expect(TernionError.isInstance(err)).toBe(true);
    expect(err).toBeInstanceOf(TernionError);
    expect(err.name).toBe('GgufError');
  });
});

describe('parseGguf on a view into a larger buffer', () => {
  test('offsets are relative to the view, not to its ArrayBuffer', () => {
    const original = smallWriter().toBytes();
    const backing = new Uint8Array(original.byteLength + 10).fill(0xee);
    backing.set(original, 3);
    const view = backing.subarray(3, 3 + original.byteLength);
    const file = parseGguf(view);
    const reference = parseGguf(original);
    expect(file.getString('general.name')).toBe('tiny ✓');
    for (const t of reference.tensors.values()) {
      expect(file.requireTensor(t.name).offset).toBe(t.offset);
      expect(file.requireTensor(t.name).data()).toEqual(t.data());
    }
  });
});

describe('argument and I/O errors', () => {
  test('openGguf rejects a bad path argument with TypeError', () => {
    expect(() => openGguf('')).toThrow(TypeError);
    expect(() => openGguf(42 as unknown as string)).toThrow(TypeError);
  });

  test('openGguf on a missing file or a directory throws GgufError with the path', () => {
    expectGgufError(
      () => openGguf('/nonexistent/model.gguf'),
      'GGUF_INVALID',
      /cannot open GGUF file \/nonexistent\/model\.gguf/,
    );
    expectGgufError(() => openGguf('/tmp'), 'GGUF_INVALID', /cannot open GGUF file \/tmp/);
  });

  test('parseGguf rejects non-bytes with TypeError', () => {
    expect(() => parseGguf([1, 2, 3] as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => parseGguf(new Uint8Array(8), 3 as unknown as string)).toThrow(TypeError);
  });

  test('the default name is <buffer>', () => {
    const err = expectGgufError(() => parseGguf(new Uint8Array(2)), 'GGUF_INVALID', /truncated/);
    expect(err.message).toContain('<buffer>');
    expect(err).toBeInstanceOf(GgufError);
  });
});
