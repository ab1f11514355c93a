import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentMachineKey, KEEP_BUILDS, KernelChooser } from './kernel-chooser.js';
import type { MeasureShape } from './measure-kernels.js';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A fake timer: deterministic per shape, counting calls. */
function fakeTimer(seed = 1) {
  const calls: MeasureShape[] = [];
  const timer = (s: MeasureShape) => {
    calls.push(s);
    const r = rng(s.rows * 7919 + s.cols * 31 + s.n + seed);
    return { mad: 1e-4 * (0.5 + r()), lut: 1e-4 * (0.5 + r()) };
  };
  return { timer, calls };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'tmac-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('KernelChooser', () => {
  it('never picks the slower kernel, and picks LUT only by more than the margin', () => {
    const { timer } = fakeTimer();
    const chooser = new KernelChooser({ profilePath: null, timer, machineKey: 'm' });
    let luts = 0;
    for (let i = 1; i <= 40; i++) {
      const [rows, cols] = [64 * i, 256 * ((i % 7) + 1)];
      chooser.measure(rows, cols);
      for (const n of [1, 16, 128]) {
        const t = chooser.timing(rows, cols, n)!;
        const k = chooser.choose(rows, cols, n);
        if (k === 'lut') {
          luts++;
          expect(t.lut).toBeLessThan(t.mad * 0.97);
        } else {
          expect(t.lut).toBeGreaterThanOrEqual(t.mad * 0.97);
        }
      }
    }
    expect(luts).toBeGreaterThan(10); // the fake makes both outcomes common
  });

  it('keeps MAD when LUT is faster only within the noise margin', () => {
    const chooser = new KernelChooser({
      profilePath: null,
      machineKey: 'm',
      timer: ({ n }) => (n === 1 ? { mad: 100, lut: 99 } : { mad: 100, lut: 50 }),
    });
    chooser.measure(256, 512);
    expect(chooser.choose(256, 512, 1)).toBe('mad');
    expect(chooser.choose(256, 512, 16)).toBe('lut');
    expect(chooser.usesLut(256, 512)).toBe(true);
  });

  it('measures short batches by default, so a short prompt does not inherit the 1-row choice', () => {
    // LUT wins one row and loses from two on (as on the 700m FFN shapes): 2..15 rows must not run LUT.
    const chooser = new KernelChooser({
      profilePath: null,
      machineKey: 'm',
      timer: ({ n }) => (n === 1 ? { mad: 100, lut: 90 } : { mad: 100, lut: 100 + 20 * n }),
    });
    chooser.measure(4096, 1536);
    expect(chooser.batchSizes).toEqual([1, 2, 4, 8, 16, 128]);
    expect([1, 2, 3, 5, 9, 15, 16].map((n) => chooser.choose(4096, 1536, n))).toEqual([
      'lut',
      'mad',
      'mad',
      'mad',
      'mad',
      'mad',
      'mad',
    ]);
  });

  it('answers a batch size with the figures of the largest measured size not above it', () => {
    const chooser = new KernelChooser({
      profilePath: null,
      machineKey: 'm',
      timer: ({ n }) => (n === 16 ? { mad: 1, lut: 2 } : { mad: 2, lut: 1 }),
      batchSizes: [1, 16, 128],
    });
    expect(chooser.choose(512, 512, 1)).toBe('mad'); // unmeasured shape
    chooser.measure(512, 512);
    expect([1, 3, 15, 16, 127, 128, 4096].map((n) => chooser.choose(512, 512, n))).toEqual([
      'lut',
      'lut',
      'lut',
      'mad',
      'mad',
      'lut',
      'lut',
    ]);
    expect(chooser.choices().map((c) => [c.n, c.kernel])).toEqual([
      [1, 'lut'],
      [16, 'mad'],
      [128, 'lut'],
    ]);
  });

  it("keeps only the newest kernel builds' figures of this machine on save, and every other machine's", () => {
    const file = path.join(dir, 'profile.json');
    const key = currentMachineKey();
    const prefix = key.slice(0, key.lastIndexOf('|') + 1);
    const figures = { '8x8/per-token': { 1: { mad: 1, lut: 2 } } };
    const old = ['b1', 'b2', 'b3', 'b4', 'b5'].map((b) => `${prefix}${b}`); // oldest first
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        machines: Object.fromEntries([...old, 'other-cpu|avx2|4T|b0'].map((k) => [k, figures])),
      }),
    );
    const { timer } = fakeTimer();
    const chooser = new KernelChooser({ profilePath: file, timer });
    chooser.measure(64, 256);
    chooser.save();
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { machines: Record<string, unknown> };
    // the current build plus the KEEP_BUILDS - 1 newest others survive; another machine is never touched
    expect(Object.keys(saved.machines).sort()).toEqual(
      [...old.slice(old.length - (KEEP_BUILDS - 1)), key, 'other-cpu|avx2|4T|b0'].sort(),
    );
  });

  it('keeps figures another process saved after this one loaded the profile', () => {
    const file = path.join(dir, 'profile.json');
    const { timer } = fakeTimer();
    const a = new KernelChooser({ profilePath: file, timer, machineKey: 'cpu|avx512|2T' });
    const b = new KernelChooser({ profilePath: file, timer, machineKey: 'cpu|avx512|2T' });
    const c = new KernelChooser({ profilePath: file, timer, machineKey: 'cpu|avx2|2T' });
    a.measure(64, 256);
    a.save();
    b.measure(128, 256); // same machine, another shape, loaded before a saved
    b.save();
    c.measure(64, 256); // another machine
    c.save();
    const saved = JSON.parse(readFileSync(file, 'utf8')) as {
      machines: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(saved.machines).sort()).toEqual(['cpu|avx2|2T', 'cpu|avx512|2T']);
    expect(Object.keys(saved.machines['cpu|avx512|2T']!).sort()).toEqual([
      '128x256/per-token',
      '64x256/per-token',
    ]);
  });

  it('saves and reloads the profile without measuring again', () => {
    const file = path.join(dir, 'nested', 'profile.json');
    const first = fakeTimer();
    const a = new KernelChooser({ profilePath: file, timer: first.timer, machineKey: 'cpu|avx512|2T' });
    a.measure(2560, 2560);
    a.measure(6912, 2560);
    expect(first.calls).toHaveLength(2 * 6); // 2 shapes x the 6 default batch sizes
    a.save();
    const second = fakeTimer(99);
    const b = new KernelChooser({ profilePath: file, timer: second.timer, machineKey: 'cpu|avx512|2T' });
    expect(b.has(2560, 2560)).toBe(true);
    b.measure(2560, 2560);
    expect(second.calls).toHaveLength(0);
    expect(b.choices()).toEqual(a.choices());
    // Another machine key (other CPU, ISA or thread count) does not reuse the figures.
    const c = new KernelChooser({ profilePath: file, timer: second.timer, machineKey: 'cpu|avx2|2T' });
    expect(c.has(2560, 2560)).toBe(false);
    expect(JSON.parse(readFileSync(file, 'utf8')).version).toBe(1);
  });

  it('ignores a corrupt or invalid profile with a warning and measures again', () => {
    for (const text of [
      '{"version": 1, "machines": {',
      '{"version": 7, "machines": {}}',
      '{"version":1,"machines":{"m":{"8x8/per-token":{"1":{"mad":-1,"lut":1}}}}}',
    ]) {
      const file = path.join(dir, 'profile.json');
      writeFileSync(file, text);
      const warnings: string[] = [];
      const { timer, calls } = fakeTimer();
      const chooser = new KernelChooser({
        profilePath: file,
        timer,
        machineKey: 'm',
        warn: (w) => warnings.push(w),
      });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/profile/);
      chooser.measure(8, 8);
      expect(calls).toHaveLength(6); // every default batch size
      chooser.save();
      expect(
        new KernelChooser({ profilePath: file, timer, machineKey: 'm', warn: (w) => warnings.push(w) }).has(
          8,
          8,
        ),
      ).toBe(true);
      expect(warnings).toHaveLength(1);
    }
  });

  it('a missing profile file is not a warning', () => {
    const warnings: string[] = [];
    new KernelChooser({
      profilePath: path.join(dir, 'none.json'),
      timer: fakeTimer().timer,
      warn: (w) => warnings.push(w),
    });
    expect(warnings).toEqual([]);
  });

  it('force pins one kernel without measuring', () => {
    const { timer, calls } = fakeTimer();
    for (const force of ['mad', 'lut'] as const) {
      const chooser = new KernelChooser({ profilePath: null, timer, machineKey: 'm', force });
      chooser.measure(2560, 2560);
      expect(chooser.has(2560, 2560)).toBe(true);
      expect([1, 16, 128].map((n) => chooser.choose(2560, 2560, n))).toEqual([force, force, force]);
      expect(chooser.usesLut(2560, 2560)).toBe(force === 'lut');
    }
    expect(calls).toHaveLength(0);
    expect(() => new KernelChooser({ profilePath: null, force: 'fast' as 'mad' })).toThrow(TypeError);
  });

  it('rejects bad arguments', () => {
    const { timer } = fakeTimer();
    expect(() => new KernelChooser({ profilePath: null, timer, batchSizes: [16, 128] })).toThrow(RangeError);
    expect(() => new KernelChooser({ profilePath: null, timer, margin: 1 })).toThrow(RangeError);
    const chooser = new KernelChooser({ profilePath: null, timer, machineKey: 'm' });
    expect(() => chooser.measure(0, 256)).toThrow(RangeError);
    expect(() => chooser.measure(256, 1.5)).toThrow(RangeError);
    expect(() => chooser.choose(256, 256, 0)).toThrow(RangeError);
    const bad = new KernelChooser({ profilePath: null, machineKey: 'm', timer: () => ({ mad: 0, lut: 1 }) });
    expect(() => bad.measure(64, 64)).toThrow(/non-positive/);
  });
});
