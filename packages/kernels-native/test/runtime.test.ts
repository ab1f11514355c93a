import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  add,
  cpuFeatures,
  forEachIsa,
  getThreads,
  kernelBuildId,
  kernelInfo,
  measureReadBandwidth,
  mmapFile,
  recordProgram,
  setIsa,
  setThreads,
} from '../lib/index.js';

const initialThreads = getThreads();
afterAll(() => setThreads(initialThreads));

describe('runtime', () => {
  it('reports CPU features consistent with the chosen ISA', () => {
    const f = cpuFeatures();
    const info = kernelInfo();
    expect(info.supportedIsas[0]).toBe('generic');
    expect(info.supportedIsas.at(-1)).toBe(info.bestIsa);
    if (info.bestIsa === 'avx512') expect(f.avx512f && f.avx512bw && f.avx512vnni && f.osZmm).toBe(true);
    if (info.bestIsa !== 'generic') expect(f.avx2 && f.fma && f.osYmm).toBe(true);
    expect(f.physicalCores).toBeGreaterThanOrEqual(1);
  });

  it('identifies the loaded kernels build', () => {
    expect(kernelBuildId()).toMatch(/^[0-9a-z]+-[0-9a-z]+$/);
    expect(kernelBuildId()).toBe(kernelBuildId());
  });

  it('forces lower ISA levels and refuses unknown ones', () => {
    forEachIsa((isa) => expect(kernelInfo().isa).toBe(isa));
    expect(() => setIsa('sse' as never)).toThrow(TypeError);
    const best = kernelInfo().bestIsa;
    if (best !== 'avx512') expect(() => setIsa('avx512')).toThrow(RangeError);
    expect(kernelInfo().isa).toBe(best);
  });

  it('resizes the thread pool and validates the count', () => {
    setThreads(3);
    expect(getThreads()).toBe(3);
    setThreads(1);
    expect(getThreads()).toBe(1);
    expect(() => setThreads(0)).toThrow(RangeError);
    expect(() => setThreads(1.5)).toThrow(TypeError);
    setThreads(initialThreads);
  });

  it('measures read bandwidth with every thread count', () => {
    const buf = new Uint8Array(8 << 20);
    for (const t of [1, 2]) {
      setThreads(t);
      const bw = measureReadBandwidth(buf, 3);
      expect(bw.bytes).toBe(buf.length);
      expect(bw.bytesPerSecond).toBeGreaterThan(1e8);
    }
  });

  it('maps a file copy-on-write', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ternion-'));
    const file = path.join(dir, 'x.bin');
    writeFileSync(file, Buffer.from([1, 2, 3, 4, 5]));
    const ab = mmapFile(file);
    const bytes = new Uint8Array(ab);
    expect([...bytes]).toEqual([1, 2, 3, 4, 5]);
    bytes[0] = 9; // private mapping: the file is unchanged
    expect([...new Uint8Array(mmapFile(file))]).toEqual([1, 2, 3, 4, 5]);
    expect(() => mmapFile(path.join(dir, 'missing.bin'))).toThrow(/cannot open/);
    expect(() => mmapFile(dir)).toThrow(/not a regular file/);
  });

  it('the pool survives thousands of back-to-back jobs whose chunk counts change every call', async () => {
    // Regression: a thread arriving late for one job could claim a chunk of the next one while the caller
    // was still writing it, and the caller then waited forever. Alternate a 1-chunk and an 8-chunk job.
    setThreads(2);
    const small = 20_000; // 2 grains of 16384 → few chunks
    const big = 16384 * 8; // 8 grains → 8 chunks at 2 threads
    const a = Float32Array.from({ length: big }, (_, i) => i % 97);
    const b = Float32Array.from({ length: big }, (_, i) => (i % 89) * 0.5);
    const out1 = new Float32Array(big);
    const out2 = new Float32Array(big);
    const p = recordProgram(() => {
      add(a, b, out1, small);
      add(a, b, out2, big);
      add(a, b, out1, 1);
    });
    for (let i = 0; i < 30_000; i++) {
      if (i % 1000 === 0) out2.fill(0);
      if (i % 8 === 0) await p.runAsync();
      else p.run();
    }
    for (let i = 0; i < big; i += 997) expect(out2[i]).toBe(a[i]! + b[i]!);
    expect(out1[small - 1]).toBe(a[small - 1]! + b[small - 1]!);
    setThreads(initialThreads);
  });

  it('the pool runs every element exactly once for big-then-small chunk schedules', () => {
    // add(x, ones, x) in place: an element covered twice would end at 2, one skipped at 0. Sizes from just past
    // four grains per thread (where big + small chunks start) to many grains, with ragged tails.
    const grain = 16384; // ops' element grain (kElemGrain in src/ops/ops.cc)
    try {
      for (const threads of [2, 3]) {
        setThreads(threads);
        for (const units of [4 * threads + 1, 24, 64, 101]) {
          for (const tail of [0, 1, grain - 1]) {
            const count = (units - 1) * grain + (tail === 0 ? grain : tail);
            const x = new Float32Array(count);
            const ones = new Float32Array(count).fill(1);
            add(x, ones, x, count);
            let bad = -1;
            for (let i = 0; i < count && bad < 0; i++) if (x[i] !== 1) bad = i;
            expect(bad, `threads ${threads}, ${count} elements`).toBe(-1);
          }
        }
      }
    } finally {
      setThreads(initialThreads);
    }
  });

  it('profiles a program: seconds per recorded call, by kernel name, only while profiling is on', async () => {
    const big = 1 << 20;
    const a = new Float32Array(big).fill(1);
    const b = new Float32Array(big).fill(2);
    const out = new Float32Array(big);
    const p = recordProgram(() => {
      add(a, b, out, 16); // tiny
      add(a, b, out, big); // 65536x the elements
    });
    p.run();
    expect(p.profile()).toEqual({
      runs: 0,
      calls: [
        { kernel: 'add', seconds: 0 },
        { kernel: 'add', seconds: 0 },
      ],
    });
    p.setProfiling(true);
    for (let i = 0; i < 5; i++) {
      p.run();
      await p.runAsync();
    }
    const prof = p.profile();
    expect(prof.runs).toBe(10);
    expect(prof.calls.map((c) => c.kernel)).toEqual(['add', 'add']);
    expect(prof.calls[0]!.seconds).toBeGreaterThan(0);
    expect(prof.calls[1]!.seconds).toBeGreaterThan(prof.calls[0]!.seconds);
    p.setProfiling(false);
    p.run();
    expect(p.profile().runs).toBe(10);
    p.resetProfile();
    expect(p.profile().runs).toBe(0);
    expect(p.profile().calls[1]!.seconds).toBe(0);
    expect(() => (p.setProfiling as (on: unknown) => void)('yes')).toThrow(TypeError);
    const running = p.runAsync();
    expect(() => p.profile()).toThrow(/already running/);
    await running;
  });

  it('records an empty program and runs it sync and async', async () => {
    const p = recordProgram(() => {});
    expect(p.length).toBe(0);
    p.run();
    await p.runAsync();
  });
});
