import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

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

  it('serve --help lists every server flag', async () => {
    const r = await ternion('serve', '--help');
    for (const flag of [
      '--request-timeout <ms>',
      '--drain-timeout <ms>',
      '--kv-cache-tokens <n>',
      '--public-metrics',
      '--public-ready',
      '--api-key',
      '--parallel',
      '--ctx-size',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    const bad = await ternion('serve', '--request-timeout', 'soon');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--request-timeout must be an integer/);
    // Past setTimeout's 2^31 − 1 ms Node fires after 1 ms: refused instead of a 504 on every request.
    for (const flag of ['--request-timeout', '--drain-timeout']) {
      const huge = await ternion('serve', flag, '2147483648');
      expect(huge.code).not.toBe(0);
      expect(huge.stderr).toContain(`${flag} must be an integer in [`);
      expect(huge.stderr).toContain(', 2147483647]');
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

describe('ternion serve', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  /** Starts `ternion serve` on a free port; resolves with its URL once it listens. */
  async function serve(...args: string[]): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--log-level', 'warn', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`serve exited early with ${code}: ${stderr}`)));
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /serving on (http:\S+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
    });
    return { child, url };
  }

  it('a small --kv-cache-tokens serves parallel requests to completion (preemption), public metrics, keyed API', async () => {
    const key = 'sk-cli-test';
    const { child, url } = await serve(
      '--parallel',
      '4',
      '--ctx-size',
      '64',
      '--kv-cache-tokens',
      '64',
      '--request-timeout',
      '60000',
      '--drain-timeout',
      '1000',
      '--api-key',
      key,
      '--public-metrics',
    );
    const complete = (prompt: string) =>
      fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ prompt, max_tokens: 40, temperature: 0 }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { choices: { text: string }[] } }));
    const prompts = ['Once upon a time', 'The dog', 'Lily saw a', 'One day, Tom'];
    const parallel = await Promise.all(prompts.map(complete));
    for (const r of parallel) expect(r.status).toBe(200);
    // No key needed for /metrics (--public-metrics), still needed for /ready and the API.
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    const preemptions = Number(/^ternion_preemptions_total (\d+)$/m.exec(await metrics.text())?.[1]);
    expect(preemptions).toBeGreaterThan(0);
    expect((await fetch(`${url}/ready`)).status).toBe(401);
    expect((await fetch(`${url}/v1/models`)).status).toBe(401);
    // Preempted and recomputed, each text is what the request gets alone.
    for (const [i, p] of prompts.entries()) {
      expect(parallel[i]!.body.choices[0]!.text).toBe((await complete(p)).body.choices[0]!.text);
    }
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  });
});
