import { native } from './native.js';

interface MemoryNative {
  mmapFile(path: string): ArrayBuffer;
  readBandwidth(buffer: Uint8Array, passes: number): { seconds: number[]; bytes: number; checksum: number };
}
const n = native as unknown as MemoryNative;

/**
 * Maps a whole file into memory (private, copy-on-write): O(1) to open, memory grows only with the pages
 * read, writes never reach the file. The mapping lives until the ArrayBuffer is garbage-collected.
 */
export function mmapFile(path: string): ArrayBuffer {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError('mmapFile: path must be a non-empty string');
  return n.mmapFile(path);
}

export interface ReadBandwidth {
  /** Median of the passes, bytes per second. */
  bytesPerSecond: number;
  passesGBps: number[];
  bytes: number;
}

/**
 * Measures read bandwidth by streaming `buffer` with every pool thread, `passes` times. Use a buffer much
 * larger than the last-level cache (e.g. 512 MiB) to measure DRAM.
 */
export function measureReadBandwidth(buffer: Uint8Array, passes = 5): ReadBandwidth {
  const r = n.readBandwidth(buffer, passes);
  const rates = r.seconds.map((s) => r.bytes / s).sort((a, b) => a - b);
  return {
    bytesPerSecond: rates[Math.floor(rates.length / 2)] ?? 0,
    passesGBps: r.seconds.map((s) => r.bytes / s / 1e9),
    bytes: r.bytes,
  };
}
