import { describe, expect, it } from 'vitest';
import {
  decodeTernary,
  decodeTernaryAsync,
  encodeTernary,
  encodeTernaryAsync,
  recordProgram,
  type TernaryFormat,
  ternaryFormatInfo,
  ternaryTensorBytes,
} from '../lib/index.js';
import { detach, randomTernary, sameBytes } from './helpers.js';
import { f32ToFp16, fp16ToF32, quantizeI2sRef, quantizeTq1Ref, quantizeTq2Ref } from './reference/ternary.js';

const FORMATS: TernaryFormat[] = ['TQ1_0', 'TQ2_0', 'I2_S'];

describe('ternary format constants', () => {
  it('reports block geometry and tensor sizes', () => {
    expect(ternaryFormatInfo('TQ1_0')).toEqual({ blockWeights: 256, blockBytes: 54 });
    expect(ternaryFormatInfo('TQ2_0')).toEqual({ blockWeights: 256, blockBytes: 66 });
    expect(ternaryFormatInfo('I2_S')).toEqual({ blockWeights: 128, blockBytes: 32 });
    expect(ternaryTensorBytes('TQ2_0', 2560 * 2560)).toBe((2560 * 2560 * 66) / 256);
    expect(ternaryTensorBytes('TQ1_0', 512)).toBe(108);
    expect(ternaryTensorBytes('I2_S', 2560 * 640)).toBe((2560 * 640) / 4 + 32);
    expect(() => ternaryTensorBytes('TQ2_0', 300)).toThrow(RangeError);
    expect(() => ternaryTensorBytes('I2_S', 200)).toThrow(RangeError);
    expect(() => ternaryTensorBytes('Q4_0' as never, 256)).toThrow(TypeError);
    expect(() => ternaryTensorBytes('I2_S', 1.5)).toThrow(TypeError);
  });

  it('converts fp16 like the hardware does', () => {
    for (const [h, f] of [
      [0x3c00, 1],
      [0x3800, 0.5],
      [0xc000, -2],
      [0x0001, 2 ** -24],
      [0x7bff, 65504],
    ] as const) {
      expect(fp16ToF32(h)).toBe(f);
      expect(f32ToFp16(f)).toBe(h);
    }
    expect(f32ToFp16(1 + 2 ** -11)).toBe(0x3c00); // tie rounds to even
    expect(f32ToFp16(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });
});

describe('decodeTernary on hand-built blocks', () => {
  it('TQ2_0: weight j of chunk c at qs[c*32 + j%32], shift 2*(j/32)', () => {
    const b = new Uint8Array(66).fill(0x55); // every code 1: weight 0
    b[0] = 0b10_01_00_10; // weights 0 (+1), 32 (-1), 64 (0), 96 (+1)
    b[32 + 5] = 0b00_00_00_01 | (0b10 << 2); // chunk 1, j = 5: weight 133 (0), j = 37: weight 165 (+1)
    b[32 + 5]! |= 0b0101 << 4; // weights 197, 229 zero
    b[64] = 0x00;
    b[65] = 0x38; // d = 0.5
    const { values, scales } = decodeTernary('TQ2_0', b, 256);
    const expected = new Int8Array(256);
    expected[0] = 1;
    expected[32] = -1;
    expected[96] = 1;
    expected[165] = 1;
    expect([...values]).toEqual([...expected]);
    expect([...scales]).toEqual([0.5]);
  });

  it('TQ1_0: base-3 bytes, trit n of qs[m] is weight m + 32n, then 16-byte and qh groups', () => {
    const b = new Uint8Array(54);
    b.fill(128, 0, 48); // ceil(121 * 256 / 243) = 128: five codes 1
    b.fill(127, 48, 52); // ceil(40 * 3 * 256 / 243) = 127: four codes 1
    b[0] = 186; // trits 2,0,1,1,2: weights 0 (+1), 32 (-1), 64, 96 (0), 128 (+1)
    b[32 + 3] = 186; // weights 163 (+1), 179 (-1), 195, 211 (0), 227 (+1)
    b[48 + 1] = 231; // trits 2,2,0,1: weights 241 (+1), 245 (+1), 249 (-1), 253 (0)
    b[52] = 0x00;
    b[53] = 0xc0; // d = -2
    const expected = new Int8Array(256);
    for (const [k, v] of [
      [0, 1],
      [32, -1],
      [128, 1],
      [163, 1],
      [179, -1],
      [227, 1],
      [241, 1],
      [245, 1],
      [249, -1],
    ] as const) {
      expected[k] = v;
    }
    const { values, scales } = decodeTernary('TQ1_0', b, 256);
    expect([...values]).toEqual([...expected]);
    expect([...scales]).toEqual([-2]);
  });

  it('I2_S: byte j holds weights j, j+32, j+64, j+96 in bits 7-6, 5-4, 3-2, 1-0; one f32 scale after', () => {
    const b = new Uint8Array(256 / 4 + 32).fill(0x55, 0, 64);
    b[0] = 0b10_00_01_10; // weights 0 (+1), 32 (-1), 64 (0), 96 (+1)
    b[32 + 31] = 0b01_01_01_00; // second block: weight 128 + 127 = 255 (-1)
    new DataView(b.buffer).setFloat32(64, 0.75, true);
    b.fill(0xee, 68); // padding is not zeroed by bitnet.cpp: it must be ignored
    const { values, scales } = decodeTernary('I2_S', b, 256);
    const expected = new Int8Array(256);
    expected[0] = 1;
    expected[32] = -1;
    expected[96] = 1;
    expected[255] = -1;
    expect([...values]).toEqual([...expected]);
    expect([...scales]).toEqual([0.75]);
  });

  it('rejects the invalid code 3 naming the block', () => {
    const b = new Uint8Array(66 * 2).fill(0x55);
    b[66 + 7] = 0xff;
    expect(() => decodeTernary('TQ2_0', b, 512)).toThrow(/block 1 .*invalid code 3/);
    const i2 = new Uint8Array(128 / 4 + 32).fill(0x55, 0, 32);
    i2[3] = 0b11_01_01_01;
    expect(() => decodeTernary('I2_S', i2, 128)).toThrow(RangeError);
  });
});

describe('encodeTernary', () => {
  it('round-trips through decodeTernary for every format', () => {
    for (const format of FORMATS) {
      for (const n of format === 'I2_S' ? [128, 640, 128 * 37] : [256, 256 * 9]) {
        const values = randomTernary(n, n + format.length);
        const nScales = format === 'I2_S' ? 1 : n / 256;
        const scales = Float32Array.from({ length: nScales }, (_, i) => fp16ToF32(f32ToFp16(0.01 * (i + 1))));
        const bytes = encodeTernary(format, values, scales);
        expect(bytes.length).toBe(ternaryTensorBytes(format, n));
        const back = decodeTernary(format, bytes, n);
        expect(back.values).toEqual(values);
        expect(back.scales).toEqual(scales);
      }
    }
  });

  it('writes the bytes llama.cpp and bitnet.cpp write for the same weights', () => {
    const n = 256 * 6;
    const values = randomTernary(n, 7);
    values.fill(0, 256, 512); // an all-zero block: llama.cpp writes d = 0 for it
    const blockScales = Float32Array.from({ length: n / 256 }, (_, b) => (b === 1 ? 0 : 0.0123 * (b + 1)));
    const x = Float32Array.from(values, (v, i) => v * blockScales[Math.floor(i / 256)]!);
    expect(encodeTernary('TQ2_0', values, blockScales)).toEqual(quantizeTq2Ref(x));
    expect(encodeTernary('TQ1_0', values, blockScales)).toEqual(quantizeTq1Ref(x));
    const s = 0.0421;
    const xi = Float32Array.from(values, (v) => v * s);
    expect(encodeTernary('I2_S', values, Float32Array.of(s))).toEqual(quantizeI2sRef(xi));
  });

  it('round-trips a 2B-model-sized matrix (17.7M weights, split over the thread pool)', () => {
    const n = 2560 * 6912;
    const values = randomTernary(n, 3);
    for (const format of FORMATS) {
      const nScales = format === 'I2_S' ? 1 : n / 256;
      const bytes = encodeTernary(format, values, new Float32Array(nScales).fill(1));
      expect(sameBytes(decodeTernary(format, bytes, n).values, values)).toBe(true);
    }
  });

  it('runs off the JS thread with the same bytes, and refuses to be recorded', async () => {
    const values = randomTernary(256 * 5, 9);
    const scales = Float32Array.from({ length: 5 }, (_, i) => i + 1);
    for (const format of ['TQ1_0', 'TQ2_0'] as const) {
      const bytes = await encodeTernaryAsync(format, values, scales);
      expect(bytes).toEqual(encodeTernary(format, values, scales));
      expect(await decodeTernaryAsync(format, bytes, values.length)).toEqual(
        decodeTernary(format, bytes, values.length),
      );
    }
    await expect(encodeTernaryAsync('I2_S', new Int8Array(128).fill(-2), Float32Array.of(1))).rejects.toThrow(
      RangeError,
    );
    expect(() => recordProgram(() => encodeTernary('TQ2_0', values, scales))).toThrow(/cannot be recorded/);
  });

  it('validates its arguments', () => {
    expect(() => encodeTernary('TQ2_0', new Int8Array(256).fill(2), new Float32Array(1))).toThrow(
      /block 0 holds a value outside/,
    );
    expect(() => encodeTernary('TQ2_0', new Int8Array(300), new Float32Array(1))).toThrow(RangeError);
    expect(() => encodeTernary('TQ2_0', new Int8Array(512), new Float32Array(1))).toThrow(/scales has 1/);
    expect(() => encodeTernary('I2_S', new Int8Array(128), new Float32Array(2))).toThrow(RangeError);
    expect(() => encodeTernary('I2_S', [0] as never, new Float32Array(1))).toThrow(TypeError);
    expect(() => encodeTernary('TQ3' as never, new Int8Array(256), new Float32Array(1))).toThrow(TypeError);
    expect(() => decodeTernary('TQ2_0', new Uint8Array(65), 256)).toThrow(RangeError);
    expect(() => decodeTernary('TQ2_0', new Uint16Array(66) as never, 256)).toThrow(TypeError);
    expect(() => decodeTernary('TQ2_0', detach(new Uint8Array(66)), 256)).toThrow(RangeError);
  });
});
