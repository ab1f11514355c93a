import { describe, expect, test } from 'vitest';
import { modelConfigFromGguf } from './model-metadata.js';
import { openGguf, parseGguf } from './reader.js';
import { expectGgufError, TARGET_MODEL } from './test-files.fixture.js';
import { GgufWriter } from './writer.js';

describe('modelConfigFromGguf', () => {
  test('the shared llama.cpp `bitnet` model', () => {
    expect(modelConfigFromGguf(openGguf(TARGET_MODEL))).toEqual({
      architecture: 'bitnet',
      vocabSize: 2048,
      embeddingLength: 256,
      blockCount: 6,
      feedForwardLength: 768,
      headCount: 4,
      headCountKv: 2,
      headDim: 64,
      contextLength: 256,
      rmsNormEps: Math.fround(1e-5),
      ropeType: 'neox',
      ropeFreqBase: 10_000,
      ropeDimensionCount: 64,
      ffnActivation: 'silu',
      activationQuantization: 'per-block-256',
    });
  });

  /** A bitnet.cpp-style 2B-4T header (shrunk): keys prefixed by the architecture name, I2_S projections. */
  function b158(arch: string, edit: (w: GgufWriter) => void = () => {}): GgufWriter {
    const w = new GgufWriter()
      .setString('general.architecture', arch)
      .setU32(`${arch}.context_length`, 4096)
      .setU32(`${arch}.embedding_length`, 2560)
      .setU32(`${arch}.block_count`, 30)
      .setU32(`${arch}.feed_forward_length`, 6912)
      .setU32(`${arch}.attention.head_count`, 20)
      .setU32(`${arch}.attention.head_count_kv`, 5)
      .setF32(`${arch}.attention.layer_norm_rms_epsilon`, 1e-5)
      .setU32(`${arch}.vocab_size`, 128256);
    edit(w);
    return w.addTensor('blk.0.attn_q.weight', 'I2_S', [256, 4], new Uint8Array(256 + 32));
  }
  const config = (w: GgufWriter) => modelConfigFromGguf(parseGguf(w.toBytes(), 'b158.gguf'));

  test('bitnet-b1.58 (bitnet.cpp): relu², GQA, NeoX RoPE theta 500000, per-token activations for I2_S', () => {
    expect(config(b158('bitnet-b1.58'))).toEqual({
      architecture: 'bitnet-b1.58',
      vocabSize: 128256,
      embeddingLength: 2560,
      blockCount: 30,
      feedForwardLength: 6912,
      headCount: 20,
      headCountKv: 5,
      headDim: 128,
      contextLength: 4096,
      rmsNormEps: Math.fround(1e-5),
      ropeType: 'neox',
      ropeFreqBase: 500_000,
      ropeDimensionCount: 128,
      ffnActivation: 'relu2',
      activationQuantization: 'per-token',
    });
  });

  test('bitnet-25 is the same architecture, with keys prefixed `bitnet-25.`', () => {
    const c = config(b158('bitnet-25', (w) => w.setF32('bitnet-25.rope.freq_base', 250_000)));
    expect([c.architecture, c.ropeFreqBase, c.headDim, c.ffnActivation]).toEqual([
      'bitnet-b1.58',
      250_000,
      128,
      'relu2',
    ]);
  });

  test('optional keys: key_length, rope.dimension_count, head_count_kv, an activation key, TQ weights', () => {
    const c = config(
      b158('bitnet-b1.58', (w) =>
        w
          .setU32('bitnet-b1.58.attention.key_length', 64)
          .setU32('bitnet-b1.58.rope.dimension_count', 32)
          .setString('bitnet-b1.58.hidden_act', 'silu'),
      ),
    );
    expect([c.headDim, c.ropeDimensionCount, c.ffnActivation]).toEqual([64, 32, 'silu']);

    const tq = new GgufWriter()
      .setString('general.architecture', 'bitnet')
      .setU32('bitnet.context_length', 128)
      .setU32('bitnet.embedding_length', 256)
      .setU32('bitnet.block_count', 1)
      .setU32('bitnet.feed_forward_length', 512)
      .setU32('bitnet.attention.head_count', 8)
      .setF32('bitnet.attention.layer_norm_rms_epsilon', 1e-6)
      .setArray('tokenizer.ggml.tokens', 'string', ['a', 'b', 'c'])
      .addTensor('blk.0.ffn_down.weight', 'TQ1_0', [512, 256], new Uint8Array(2 * 256 * 54));
    const t = config(tq);
    // No head_count_kv: MHA. No vocab_size: the tokenizer's length. TQ1_0 → llama.cpp's Q8_K blocks.
    expect([t.headCountKv, t.vocabSize, t.headDim, t.ropeFreqBase, t.activationQuantization]).toEqual([
      8,
      3,
      32,
      10_000,
      'per-block-256',
    ]);
  });

  test('a file without ternary projections defaults to per-token activations; vocab from token_embd', () => {
    const w = new GgufWriter()
      .setString('general.architecture', 'bitnet')
      .setU32('bitnet.context_length', 16)
      .setU32('bitnet.embedding_length', 8)
      .setU32('bitnet.block_count', 1)
      .setU32('bitnet.feed_forward_length', 16)
      .setU32('bitnet.attention.head_count', 2)
      .setF32('bitnet.attention.layer_norm_rms_epsilon', 1e-5)
      .addTensor('token_embd.weight', 'F32', [8, 5], new Uint8Array(160))
      .addTensor('blk.0.attn_q.weight', 'F16', [8, 8], new Uint8Array(128));
    const c = config(w);
    expect([c.vocabSize, c.activationQuantization]).toEqual([5, 'per-token']);
  });

  test('missing keys and inconsistent values throw GgufError naming the key', () => {
    const without = (key: string) => {
      const source = parseGguf(b158('bitnet-b1.58').toBytes());
      const w = new GgufWriter();
      for (const [k, v] of source.metadata) if (k !== key) w.set(k, v);
      return w.addTensor('blk.0.attn_q.weight', 'I2_S', [256, 4], new Uint8Array(288));
    };
    for (const key of [
      'bitnet-b1.58.embedding_length',
      'bitnet-b1.58.block_count',
      'bitnet-b1.58.feed_forward_length',
      'bitnet-b1.58.context_length',
      'bitnet-b1.58.attention.head_count',
      'bitnet-b1.58.attention.layer_norm_rms_epsilon',
      'general.architecture',
    ]) {
      expectGgufError(
        () => config(without(key)),
        'GGUF_INVALID',
        new RegExp(`b158\\.gguf: metadata key ${key.replaceAll('.', '\\.')} is missing`),
      );
    }
    expectGgufError(
      () => config(without('bitnet-b1.58.vocab_size')),
      'GGUF_INVALID',
      /bitnet-b1\.58\.vocab_size is missing/,
    );
    expectGgufError(
      () => config(b158('llama')),
      'GGUF_UNSUPPORTED',
      /general\.architecture is 'llama'; Ternion runs bitnet, bitnet-b1\.58, bitnet-25/,
    );
    const set = (edit: (w: GgufWriter) => void) => () => config(b158('bitnet-b1.58', edit));
    expectGgufError(
      set((w) => w.setU32('bitnet-b1.58.attention.head_count_kv', 3)),
      'GGUF_INVALID',
      /head_count_kv is 3, which does not divide head_count 20/,
    );
    expectGgufError(
      set((w) => w.setU32('bitnet-b1.58.attention.head_count', 15)),
      'GGUF_INVALID',
      /head_count is 15, which does not divide embedding_length 2560/,
    );
    expectGgufError(
      set((w) => w.setU32('bitnet-b1.58.block_count', 0)),
      'GGUF_INVALID',
      /block_count is 0; it must be positive/,
    );
    expectGgufError(
      set((w) => w.setU32('bitnet-b1.58.rope.dimension_count', 129)),
      'GGUF_INVALID',
      /rope\.dimension_count is 129/,
    );
    expectGgufError(
      set((w) => w.setF32('bitnet-b1.58.attention.layer_norm_rms_epsilon', -1)),
      'GGUF_INVALID',
      /layer_norm_rms_epsilon is -1/,
    );
    expectGgufError(
      set((w) => w.setString('bitnet-b1.58.hidden_act', 'gelu')),
      'GGUF_UNSUPPORTED',
      /hidden_act is 'gelu'/,
    );
    expectGgufError(
      set((w) => w.setString('bitnet-b1.58.block_count', '30')),
      'GGUF_INVALID',
      /block_count should be uint32, but the file has string/,
    );
  });
});
