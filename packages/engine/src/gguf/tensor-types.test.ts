import { describe, expect, test } from 'vitest';
import {
  GgmlType,
  SUPPORTED_TENSOR_TYPES,
  tensorByteLength,
  tensorTypeName,
  tensorTypeTraits,
  tensorTypeTraitsOf,
} from './tensor-types.js';

describe('tensor type table', () => {
  test('ids follow ggml.h (and bitnet.cpp for I2_S)', () => {
    expect(GgmlType).toEqual({ F32: 0, F16: 1, Q8_0: 8, BF16: 30, TQ1_0: 34, TQ2_0: 35, I2_S: 36 });
    for (const t of SUPPORTED_TENSOR_TYPES) {
      expect(tensorTypeTraits(t.id)).toBe(t);
      expect(tensorTypeTraitsOf(t.name)).toBe(t);
      expect(tensorTypeName(t.id)).toBe(t.name);
    }
    expect([tensorTypeName(12), tensorTypeName(2), tensorTypeName(39), tensorTypeName(1000)]).toEqual([
      'Q4_K',
      'Q4_0',
      'MXFP4 (TL2 in bitnet.cpp)',
      'unknown',
    ]);
    expect(tensorTypeTraits(12)).toBeUndefined();
    expect(tensorTypeTraitsOf('toString')).toBeUndefined();
  });

  test('byte lengths of real model tensors', () => {
    const bytes = (name: keyof typeof GgmlType, n: number) => tensorByteLength(tensorTypeTraitsOf(name)!, n);
    // The shared model's attn_q (256 x 256) and token_embd (256 x 2048).
    expect(bytes('TQ2_0', 256 * 256)).toBe(16_896);
    expect(bytes('F32', 256 * 2048)).toBe(2_097_152);
    // bitnet-b1.58-2B-4T attn_q in I2_S: ggml_nbytes = n / 4 + 32.
    expect(bytes('I2_S', 2560 * 2560)).toBe(1_638_432);
    expect(bytes('TQ1_0', 2560 * 2560)).toBe((2560 * 2560 * 54) / 256);
    expect(bytes('Q8_0', 4096)).toBe(128 * 34);
    expect(bytes('F16', 10)).toBe(20);
    expect(bytes('BF16', 10)).toBe(20);
  });
});
