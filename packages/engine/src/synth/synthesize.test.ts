import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ActivationQuantization } from '@ternion/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { openGguf } from '../gguf/reader.js';
import { loadModel } from '../model.js';
import { MODEL_SHAPES } from './shapes.js';
import { synthesizeModel } from './synthesize.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ternion-synth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function logitsAndGreedy(
  file: string,
  mode: ActivationQuantization,
): Promise<{ logits: Float32Array; tokens: number[] }> {
  const model = await loadModel(file, { activationQuantization: mode });
  try {
    const ctx = await model.createContext({ contextSize: 64 });
    const seq = ctx.getSequence();
    const prompt = model.tokenize('the quick brown fox');
    const [logits] = await ctx.evaluate(seq.id, prompt, 'last');
    seq.clearHistory();
    const r = await seq.complete(prompt, { maxTokens: 12, temperature: 0, stopOnEog: false });
    return { logits: logits!, tokens: r.tokens };
  } finally {
    model.dispose();
  }
}

describe('synthesizeModel', () => {
  it('writes a file with the shape’s hyper-parameters and tensor types', async () => {
    const file = path.join(dir, 'tiny-tq2.gguf');
    await synthesizeModel({ shape: 'tiny', format: 'TQ2_0' }).write(file);
    const g = openGguf(file);
    const s = MODEL_SHAPES.tiny!;
    expect(g.getString('general.architecture')).toBe('bitnet');
    expect(g.getU32('bitnet.embedding_length')).toBe(s.embeddingLength);
    expect(g.getU32('bitnet.block_count')).toBe(s.blockCount);
    expect(g.getStringArray('tokenizer.ggml.tokens')).toHaveLength(s.vocabSize);
    expect(g.tensor('blk.0.attn_q.weight')?.typeName).toBe('TQ2_0');
    expect(g.tensor('blk.0.ffn_down.weight')?.shape).toEqual([s.feedForwardLength, s.embeddingLength]);
    expect(g.tensor('output.weight')).toBeUndefined();
  });

  it('rejects unknown shapes and formats a shape cannot hold', () => {
    expect(() => synthesizeModel({ shape: 'huge', format: 'TQ2_0' })).toThrow(/unknown shape 'huge'/);
    expect(() => synthesizeModel({ shape: '3b', format: 'TQ2_0' })).toThrow(/256-weight blocks/);
  });

  it('the same weights saved as I2_S, TQ2_0 and TQ1_0 give identical output under each activation setting', async () => {
    const files = (['I2_S', 'TQ2_0', 'TQ1_0'] as const).map((format) => {
      const file = path.join(dir, `same-${format}.gguf`);
      return { format, file, write: synthesizeModel({ shape: 'tiny', format, seed: 11 }).write(file) };
    });
    await Promise.all(files.map((f) => f.write));
    for (const mode of ['per-token', 'per-block-256'] as const) {
      const results = [];
      for (const f of files) results.push(await logitsAndGreedy(f.file, mode));
      for (const r of results.slice(1)) {
        expect(r.tokens).toEqual(results[0]!.tokens);
        expect(Buffer.from(r.logits.buffer).equals(Buffer.from(results[0]!.logits.buffer))).toBe(true);
      }
      // a real model, not a constant: the logits vary and greedy text is not one repeated token
      expect(new Set(results[0]!.tokens).size).toBeGreaterThan(1);
    }
  });

  it('a model with the bitnet-b1.58-2B-4T shape loads and generates', async () => {
    const file = path.join(dir, '2b4t-i2s.gguf');
    await synthesizeModel({ shape: '2b4t', format: 'I2_S' }).write(file);
    expect(statSync(file).size).toBeGreaterThan(1.1e9);
    const model = await loadModel(file);
    try {
      expect(model.config.architecture).toBe('bitnet-b1.58');
      expect(model.config.ffnActivation).toBe('relu2');
      expect(model.config.headCountKv).toBe(5);
      expect(model.config.activationQuantization).toBe('per-token');
      const ctx = await model.createContext({ contextSize: 64 });
      const r = await ctx
        .getSequence()
        .complete('hello world', { maxTokens: 4, temperature: 0, stopOnEog: false });
      expect(r.tokens).toHaveLength(4);
      for (const t of r.tokens) expect(t).toBeLessThan(128256);
    } finally {
      model.dispose();
      rmSync(file);
    }
  }, 300_000);
});
