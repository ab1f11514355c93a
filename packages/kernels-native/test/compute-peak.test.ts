import { describe, expect, it } from 'vitest';
import { forEachIsa, measureComputePeak } from '../lib/index.js';

describe('measureComputePeak', () => {
  it('measures positive, finite rates on every ISA level, faster with wider vectors', () => {
    const int8 = new Map<string, number>();
    forEachIsa((isa) => {
      const p = measureComputePeak(1);
      expect(Number.isFinite(p.int8MacsPerSecond) && p.int8MacsPerSecond > 1e8).toBe(true);
      expect(Number.isFinite(p.f32FmasPerSecond) && p.f32FmasPerSecond > 1e8).toBe(true);
      expect(p.threads).toBeGreaterThanOrEqual(1);
      int8.set(isa, p.int8MacsPerSecond);
    });
    // 32 (AVX2) and 64 (AVX-512) multiply-adds per instruction against one: a vector level measuring below the
    // scalar one would mean the loop was not what it claims (a 2x margin absorbs a busy machine).
    const generic = int8.get('generic')!;
    for (const isa of ['avx2', 'avx512']) {
      if (int8.has(isa)) expect(int8.get(isa)!).toBeGreaterThan(2 * generic);
    }
  });

  it('rejects a bad pass count', () => {
    expect(() => measureComputePeak(0)).toThrow(RangeError);
    expect(() => measureComputePeak(1.5)).toThrow(/passes/);
  });
});
