import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'ternion.js');
const dir = mkdtempSync(path.join(tmpdir(), 'ternion-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function ternion(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : 1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    };
  }
}

describe('ternion', () => {
  it('run: the bundled model continues a prompt with no flags but the prompt', async () => {
    const r = await ternion('run', 'Once upon a time', '-n', '12');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('Once upon a time')).toBe(true);
    expect(r.stdout.length).toBeGreaterThan('Once upon a time'.length + 10);
  });

  it('run: the same seed gives the same text, and --stats reports speed', async () => {
    const a = await ternion('run', 'The dog', '-n', '16', '--temp', '0.9', '--seed', '42');
    const b = await ternion('run', 'The dog', '-n', '16', '--temp', '0.9', '--seed', '42', '--stats');
    expect(a.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    expect(b.stderr).toMatch(/generated \d+ tokens, [\d.]+ tok\/s/);
  });

  it('run --round-like-llamacpp computes like llama.cpp (same greedy text on the trained model)', async () => {
    const a = await ternion('run', 'Once upon a time', '-n', '16');
    const b = await ternion('run', 'Once upon a time', '-n', '16', '--round-like-llamacpp');
    expect(b.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const bad = await ternion('run', 'x', '--round-like-llamacpp', '--ternary-kernel', 'lut');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/roundLikeLlamaCpp needs the multiply-add ternary kernel/);
  });

  it('--help everywhere', async () => {
    for (const cmd of [[], ['run'], ['chat'], ['info'], ['bench'], ['synth'], ['serve']]) {
      const r = await ternion(...cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: ternion/);
    }
  });

  it('info prints the metadata and tensor table (and JSON)', async () => {
    const r = await ternion('info');
    expect(r.stdout).toMatch(/general\.architecture\s+"bitnet"/);
    expect(r.stdout).toMatch(/blk\.0\.attn_q\.weight\s+TQ2_0/);
    const j = JSON.parse((await ternion('info', '--json')).stdout) as { tensors: unknown[] };
    expect(j.tensors.length).toBe(68);
  });

  it('bench prints pp/tg tok/s as JSON', async () => {
    const r = await ternion('bench', '-p', '32', '-n', '8', '-r', '1', '--json', '--verbose');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as {
      results: { test: string; median: number }[];
      kernels: { kernels: Record<string, string> };
      ternary: { rows: number; cols: number; n: number; kernel: string }[];
    };
    expect(j.results.map((x) => x.test)).toEqual(['pp32', 'tg8']);
    for (const x of j.results) expect(x.median).toBeGreaterThan(0);
    expect(Object.keys(j.kernels.kernels)).toEqual(expect.arrayContaining(['ternary_matmul', 'lut_matmul']));
    // every projection shape of the model (256×256, 128×256, 768×256, 256×768) has a decision per batch size
    expect(new Set(j.ternary.map((t) => `${t.rows}x${t.cols}`)).size).toBe(4);
    for (const t of j.ternary) expect(['mad', 'lut']).toContain(t.kernel);
  });

  it('synth writes a model that run can load', async () => {
    const file = path.join(dir, 'tiny.gguf');
    const s = await ternion('synth', 'tiny', '--type', 'I2_S', '-o', file);
    expect(s.code).toBe(0);
    const r = await ternion('run', 'hello', '-m', file, '-n', '4');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('hello')).toBe(true);
  });

  it('clear one-line errors for missing files, wrong files and bad flags', async () => {
    const missing = await ternion('run', 'x', '-m', path.join(dir, 'nope.gguf'));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/cannot read model file/);
    expect(missing.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const notGguf = await ternion('info', bin);
    expect(notGguf.code).not.toBe(0);
    expect(notGguf.stderr).toMatch(/magic/i);
    const badFlag = await ternion('run', 'x', '-n', 'lots');
    expect(badFlag.code).not.toBe(0);
    expect(badFlag.stderr).toMatch(/--max-tokens must be an integer/);
    const badShape = await ternion('synth', 'huge', '-o', path.join(dir, 'h.gguf'));
    expect(badShape.code).not.toBe(0);
    expect(badShape.stderr).toMatch(/unknown shape 'huge'/);
  });
});
