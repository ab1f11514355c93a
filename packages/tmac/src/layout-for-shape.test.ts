import { describe, expect, it } from 'vitest';
import { layoutForShape } from './layout-for-shape.js';

describe('layoutForShape', () => {
  it('takes the tallest tile that still leaves 4 tiles, within the ISA lane width', () => {
    expect(layoutForShape(2560, 2560, 'avx512').rowsPerTile).toBe(128);
    expect(layoutForShape(640, 2560, 'avx512').rowsPerTile).toBe(128);
    expect(layoutForShape(300, 2560, 'avx512').rowsPerTile).toBe(64);
    expect(layoutForShape(37, 300, 'avx512').rowsPerTile).toBe(32);
    expect(layoutForShape(2560, 2560, 'avx2').rowsPerTile).toBe(64);
    expect(layoutForShape(20, 2560, 'avx2').rowsPerTile).toBe(16);
    expect(layoutForShape(2560, 2560, 'generic').rowsPerTile).toBe(32);
  });

  it('sizes the table scratch for about 1 MiB of tables, 4 to 32 activation rows', () => {
    expect(layoutForShape(2560, 2560, 'avx512').scratchRows).toBe(18); // 55.7 KB of tables per row
    expect(layoutForShape(2560, 6912, 'avx512').scratchRows).toBe(6);
    expect(layoutForShape(64, 256, 'avx512').scratchRows).toBe(32);
    expect(layoutForShape(64, 1 << 20, 'avx512').scratchRows).toBe(4);
  });

  it('cuts K into chunks of 6 blocks (33 KB of tables per activation row, inside L1)', () => {
    expect(layoutForShape(2560, 6912, 'avx512').blocksPerChunk).toBe(6);
    expect(layoutForShape(2560, 300, 'avx512').blocksPerChunk).toBe(2);
  });

  it('rejects non-positive shapes', () => {
    expect(() => layoutForShape(0, 256, 'avx512')).toThrow(RangeError);
    expect(() => layoutForShape(8, Number.NaN, 'avx512')).toThrow(RangeError);
  });
});
