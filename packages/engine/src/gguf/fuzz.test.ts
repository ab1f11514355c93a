import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { GgufError } from './errors.js';
import { parseGguf } from './reader.js';
import { smallWriter } from './test-files.fixture.js';

const valid = smallWriter().setU32('general.alignment', 32).toBytes();
const headerEnd = parseGguf(valid).dataOffset;

/** Parsing must either succeed or throw a GgufError; any other exception (RangeError from a DataView, a
 * TypeError from a typed-array constructor, an out-of-memory) is a bug. */
function parsesOrRefuses(bytes: Uint8Array): void {
  try {
    const file = parseGguf(bytes, 'fuzz.gguf');
    // A file that parses must be self-consistent: every tensor's bytes lie inside the buffer.
    for (const t of file.tensors.values()) {
      expect(t.offset + t.byteLength).toBeLessThanOrEqual(bytes.byteLength);
      expect(t.data().byteLength).toBe(t.byteLength);
    }
  } catch (e) {
    if (!(e instanceof GgufError)) throw e;
    expect(e.message).toContain('fuzz.gguf');
  }
}

describe('fuzzing parseGguf with a small valid file', () => {
  test('every truncation that loses tensor bytes is refused with a GgufError', () => {
    // Exhaustive: the file is small. Only the last tensor's trailing padding may be cut off.
    const last = [...parseGguf(valid).tensors.values()].at(-1)!;
    const dataEnd = last.offset + last.byteLength;
    expect(dataEnd).toBeLessThan(valid.byteLength);
    for (let n = 0; n < valid.byteLength; n++) {
      if (n < dataEnd)
        expect(() => parseGguf(valid.subarray(0, n), 'fuzz.gguf'), `cut at ${n}`).toThrow(GgufError);
      else expect(parseGguf(valid.subarray(0, n)).tensors.size).toBe(3);
    }
  });

  test('random byte flips in the header either parse or throw GgufError', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat({ max: headerEnd - 1 }), value: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 8,
        }),
        (flips) => {
          const bytes = valid.slice();
          for (const { at, value } of flips) bytes[at] = value;
          parsesOrRefuses(bytes);
        },
      ),
      { numRuns: 3000, seed: 0x7e57 },
    );
  });

  test('random flips anywhere plus a random truncation either parse or throw GgufError', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ at: fc.nat({ max: valid.byteLength - 1 }), value: fc.integer({ min: 0, max: 255 }) }),
          {
            maxLength: 4,
          },
        ),
        fc.nat({ max: valid.byteLength }),
        (flips, length) => {
          const bytes = valid.slice(0, length);
          for (const { at, value } of flips) if (at < length) bytes[at] = value;
          parsesOrRefuses(bytes);
        },
      ),
      { numRuns: 2000, seed: 0xb17 },
    );
  });

  test('counts and lengths set to huge values are refused without allocating', () => {
    // Overwrite each aligned 8-byte window of the header with large u64 values: counts, string and
    // array lengths, dims and offsets all end up huge somewhere.
    for (const huge of [0xffff_ffff_ffff_ffffn, 1n << 53n, 1n << 40n, 0x8000_0000_0000_0000n]) {
      for (let at = 0; at + 8 <= headerEnd; at++) {
        const bytes = valid.slice();
        new DataView(bytes.buffer).setBigUint64(at, huge, true);
        parsesOrRefuses(bytes);
      }
    }
  });
});
