import { type Isa, LUT_BLOCK_TABLE_BYTES, type LutRowsPerTile } from '@ternion/kernels-native';

/** The tile sizes of one weight matrix: runtime data, not a kernel generated per shape. */
export interface LutLayout {
  /** Weight rows interleaved per tile: the SIMD lanes of one table lookup. */
  readonly rowsPerTile: LutRowsPerTile;
  /** 256-column blocks per K chunk: one chunk's tables (5568 bytes per block) stay in L1 while all tiles walk it. */
  readonly blocksPerChunk: number;
  /** Activation rows whose tables are built per pass (the lutMatmul scratch); more rows = fewer weight passes. */
  readonly scratchRows: number;
}

// Tables of all scratch rows should sit in L2 (1 MiB on Zen 4/5, 1.25-2 MiB on recent Intel cores).
const TABLE_BUDGET_BYTES = 1 << 20;
// One decode row's tables of a K chunk within 36 KiB of a 48 KiB L1 (6 blocks), leaving room for the weights.
const L1_TABLE_BYTES = 36 << 10;

/**
 * Picks tile sizes for a (rows, cols) matrix on `isa`. AVX-512 looks up 32 rows per vpermw and loads each
 * table once per tile, so taller tiles cut table traffic (128 rows measured fastest at 2560-6912 rows) while
 * keeping at least 4 tiles per matrix for the thread pool; AVX2 lanes are 16 rows.
 */
export function layoutForShape(rows: number, cols: number, isa: Isa): LutLayout {
  if (!Number.isSafeInteger(rows) || rows < 1)
    throw new RangeError(`layoutForShape: rows must be a positive integer, got ${rows}`);
  if (!Number.isSafeInteger(cols) || cols < 1)
    throw new RangeError(`layoutForShape: cols must be a positive integer, got ${cols}`);
  const candidates: LutRowsPerTile[] =
    isa === 'avx512' ? [128, 64, 32] : isa === 'avx2' ? [64, 32, 16] : [32, 16];
  const rowsPerTile = candidates.find((r) => rows >= 4 * r) ?? candidates[candidates.length - 1]!;
  const rowTableBytes = Math.ceil(cols / 256) * LUT_BLOCK_TABLE_BYTES;
  const scratchRows = Math.min(32, Math.max(4, Math.floor(TABLE_BUDGET_BYTES / rowTableBytes)));
  const blocksPerChunk = Math.min(Math.ceil(cols / 256), Math.floor(L1_TABLE_BYTES / LUT_BLOCK_TABLE_BYTES));
  return { rowsPerTile, blocksPerChunk, scratchRows };
}
