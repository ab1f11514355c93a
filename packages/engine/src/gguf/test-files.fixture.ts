import { expect } from 'vitest';
import { GgufError, type GgufErrorCode } from './errors.js';
import { GgufWriter } from './writer.js';

export const TARGET_MODEL = '/work/shared/models/tinystories-bitnet-b158-target-5m-tq2_0.gguf';
export const DRAFT_MODEL = '/work/shared/models/tinystories-bitnet-b158-draft-1m-tq2_0.gguf';

/** Deterministic bytes (xorshift32) so failures reproduce. */
export function pseudoRandomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A small valid file with every value kind and three tensors of different types. */
export function smallWriter(): GgufWriter {
  return new GgufWriter()
    .setString('general.architecture', 'bitnet')
    .setString('general.name', 'tiny ✓')
    .setU32('bitnet.block_count', 1)
    .setF32('bitnet.attention.layer_norm_rms_epsilon', 1e-5)
    .setBool('tokenizer.ggml.add_bos_token', true)
    .setU64('general.size', 123456789012n)
    .setArray('tokenizer.ggml.tokens', 'string', ['<unk>', '<s>', '</s>', 'a'])
    .setArray('tokenizer.ggml.scores', 'float32', [0, -1.5, -2, 3.25])
    .setArray('tokenizer.ggml.token_type', 'int32', [2, 3, 3, 1])
    .addTensor('token_embd.weight', 'F32', [8, 4], pseudoRandomBytes(8 * 4 * 4, 7))
    .addTensor('blk.0.attn_q.weight', 'TQ2_0', [256, 2], pseudoRandomBytes(2 * 66, 8))
    .addTensor('output_norm.weight', 'F16', [8], pseudoRandomBytes(16, 9));
}

export function expectGgufError(fn: () => unknown, code: GgufErrorCode, message: RegExp): GgufError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a GgufError').toBeInstanceOf(GgufError);
  const err = caught as GgufError;
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
  return err;
}
