import { describe, expect, it } from 'vitest';
import { blocksForBudget, kvBytesPerToken } from './kv-budget.js';

const bitnet2b = { numLayers: 30, numKvHeads: 5, headDim: 128 };

describe('kvBytesPerToken', () => {
  it('counts K and V over all layers and kv heads', () => {
    expect(kvBytesPerToken({ ...bitnet2b, dtype: 'f16' })).toBe(2 * 30 * 5 * 128 * 2);
    expect(kvBytesPerToken({ ...bitnet2b, dtype: 'int8' })).toBe(2 * 30 * 5 * (128 + 4));
    expect(kvBytesPerToken({ numLayers: 1, numKvHeads: 1, headDim: 1, dtype: 'f16' })).toBe(4);
  });

  it('rejects bad shapes', () => {
    expect(() => kvBytesPerToken({ ...bitnet2b, dtype: 'f32' as 'f16' })).toThrow(/dtype/);
    expect(() => kvBytesPerToken({ ...bitnet2b, numLayers: 0, dtype: 'f16' })).toThrow(RangeError);
    expect(() => kvBytesPerToken({ ...bitnet2b, headDim: 64.5, dtype: 'f16' })).toThrow(TypeError);
    expect(() => kvBytesPerToken(null as never)).toThrow(TypeError);
  });
});

describe('blocksForBudget', () => {
  it('floors the budget to whole blocks', () => {
    const perBlock = 16 * 76_800;
    const base = { ...bitnet2b, dtype: 'f16' as const, blockSize: 16 };
    expect(blocksForBudget({ ...base, budgetBytes: 1 << 30 })).toBe(Math.floor(2 ** 30 / perBlock));
    expect(blocksForBudget({ ...base, budgetBytes: 10 * perBlock })).toBe(10);
    expect(blocksForBudget({ ...base, budgetBytes: 10 * perBlock - 1 })).toBe(9);
    expect(blocksForBudget({ ...base, budgetBytes: perBlock - 1 })).toBe(0);
    // int8 roughly halves the bytes, so about twice the blocks.
    const int8 = blocksForBudget({ ...base, dtype: 'int8', budgetBytes: 1 << 30 });
    expect(int8).toBe(Math.floor(2 ** 30 / (16 * 2 * 30 * 5 * 132)));
  });

  it('rejects bad budgets', () => {
    const base = { ...bitnet2b, dtype: 'f16' as const, blockSize: 16 };
    expect(() => blocksForBudget({ ...base, budgetBytes: -1 })).toThrow(/budgetBytes/);
    expect(() => blocksForBudget({ ...base, budgetBytes: 1e6, blockSize: 0 })).toThrow(/blockSize/);
    expect(() => blocksForBudget({ ...base, budgetBytes: '1e6' as unknown as number })).toThrow(TypeError);
  });
});
