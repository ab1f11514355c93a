import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Model } from '@ternion/engine';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  loadTestModel,
  MODEL_PATH,
  postJson,
  slowGenerate,
  startTestServer,
  wrapGenerate,
} from './test-support.fixture.js';

let model: Model;

beforeAll(async () => {
  model = await loadTestModel();
});

afterAll(() => {
  model?.dispose();
});

const streamBody = (max_tokens: number) =>
  JSON.stringify({ prompt: 'Once upon a time', max_tokens, temperature: 0, stream: true });

async function openStream(url: string, max_tokens: number, signal?: AbortSignal) {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: streamBody(max_tokens),
    ...(signal ? { signal } : {}),
  });
  expect(res.status).toBe(200);
  return res;
}

describe('lifecycle', () => {
  it('a client disconnecting mid-stream cancels its sequence and frees its KV blocks at once', async () => {
    // Threshold 1: if a disconnect were counted as an engine failure the breaker would open.
    const s = await startTestServer(model, { parallel: 2, breaker: { failureThreshold: 1 } });
    try {
      const abort = new AbortController();
      const res = await openStream(s.url, 200, abort.signal);
      const reader = res.body!.getReader();
      await reader.read();
      await reader.read();
      expect(s.engine.kvStats().usedBlocks).toBeGreaterThan(0);
      const cutAt = performance.now();
      abort.abort();
      expect(
        await eventually(
          () => s.engine.kvStats().usedBlocks === 0 && s.server.state.activeSequences === 0,
          2000,
        ),
      ).toBe(true);
      expect(performance.now() - cutAt).toBeLessThan(2000);
      // The sequence went back to the pool: the next request runs.
      const next = await postJson(`${s.url}/v1/completions`, { prompt: 'The dog', max_tokens: 2 });
      expect(next.status).toBe(200);
      expect(s.engine.kvStats().usedBlocks).toBe(0);
      expect(s.server.state.breaker.state).toBe('closed');
    } finally {
      await s.close();
    }
  });

  it('/health answers promptly while 16 streams generate (generation never blocks the event loop)', async () => {
    const s = await startTestServer(model, { parallel: 16 });
    try {
      const streams = Array.from({ length: 16 }, () => openStream(s.url, 24).then((r) => r.text()));
      expect(await eventually(() => s.server.state.activeSequences === 16, 10_000)).toBe(true);
      const latencies: number[] = [];
      while (s.server.state.activeSequences > 0 && latencies.length < 50) {
        const t0 = performance.now();
        const r = await fetch(`${s.url}/health`);
        expect(r.status).toBe(200);
        latencies.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 10));
      }
      const bodies = await Promise.all(streams);
      for (const b of bodies) expect(b.endsWith('data: [DONE]\n\n')).toBe(true);
      latencies.sort((a, b) => a - b);
      // Bound chosen for a loaded 2-core machine; a forward pass on the event loop would take far longer.
      expect(latencies.length).toBeGreaterThan(3);
      expect(latencies[Math.floor(latencies.length / 2)]!).toBeLessThan(250);
      expect(s.engine.kvStats().usedBlocks).toBe(0);
    } finally {
      await s.close();
    }
  });

  it("a request arriving on a kept-alive connection during the drain gets hardening's OpenAI-shaped 503", async () => {
    const s = await startTestServer(model, { parallel: 1, drainTimeoutMs: 10_000 }, (engine) =>
      wrapGenerate(engine, slowGenerate(5)),
    );
    try {
      const { port } = new URL(s.url);
      const socket = connect(Number(port), '127.0.0.1');
      await once(socket, 'connect');
      let raw = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        raw += d;
      });
      const ended = once(socket, 'close');
      const body = streamBody(30);
      socket.write(
        `POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      expect(await eventually(() => s.server.state.activeSequences === 1)).toBe(true);
      const closed = s.server.close();
      expect(s.server.state.shutdown.draining).toBe(true);
      // The connection is busy streaming, so the drain keeps it; a second request arrives on it.
      socket.write('GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
      await ended;
      await closed;
      expect(raw).toContain('data: [DONE]'); // the running stream was drained to its end
      const second = raw.slice(raw.indexOf('data: [DONE]'));
      expect(second).toMatch(/HTTP\/1\.1 503/);
      expect(second).toContain('"code":"shutting_down"');
      expect(second).not.toContain('"message":"Service Unavailable"'); // fastify's own 503 body
    } finally {
      await s.close();
    }
  });

  it('1,000 sequential short requests keep heapUsed flat (< 8 MiB growth after GC)', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'run with --expose-gc (vitest.config.ts sets execArgv)').toBeTypeOf('function');
    const s = await startTestServer(model, { parallel: 2 });
    try {
      const one = async () => {
        const r = await fetch(`${s.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"prompt":"Hi","max_tokens":1}',
          // A hung request fails here with its own error instead of the test's timeout.
          signal: AbortSignal.timeout(15_000),
        });
        expect(r.status).toBe(200);
        await r.arrayBuffer();
      };
      for (let i = 0; i < 100; i++) await one();
      gc!();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 900; i++) await one();
      gc!();
      const after = process.memoryUsage().heapUsed;
      // A leak of one logits row per request (2048 floats = 8 KiB) would add 7 MiB over 900 requests.
      expect(after - before).toBeLessThan(8 * 1024 * 1024);
      expect(s.engine.kvStats().usedBlocks).toBe(0);
      expect(s.server.state.admission.running).toBe(0);
    } finally {
      await s.close();
    }
  }, 120_000);
});

describe('SIGTERM drains and exits 0', () => {
  const mainJs = fileURLToPath(new URL('../dist/main.js', import.meta.url));
  const children: ChildProcess[] = [];

  // A child that failed to exit must not outlive the test run.
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  /** Fails with `what` instead of the test's generic timeout, so a hang says where it is. */
  function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} (not within ${ms} ms)`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
    let text = '';
    for (;;) {
      const r = await reader.read();
      if (r.done) return text;
      text += new TextDecoder().decode(r.value);
    }
  }

  async function spawnServer(drainMs: number): Promise<{ child: ChildProcess; url: string }> {
    expect(existsSync(mainJs), `build the package first (npm run build -w @ternion/server): ${mainJs}`).toBe(
      true,
    );
    const child = spawn(
      process.execPath,
      [
        mainJs,
        '--model',
        MODEL_PATH,
        '--port',
        '0',
        '--parallel',
        '2',
        '--drain-timeout-ms',
        String(drainMs),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    let buffered = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
      child.stdout!.on('data', (d: Buffer) => {
        buffered += d.toString();
        const m = /"url":"(http:[^"]+)"/.exec(buffered);
        if (m) resolve(m[1]!);
      });
    });
    return { child, url };
  }

  it('a running stream finishes, new requests are refused, the process exits 0', async () => {
    const { child, url } = await spawnServer(10_000);
    const res = await openStream(url, 40);
    const reader = res.body!.getReader();
    const first = await reader.read();
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    // Draining: the listener is closed (connection refused) or the request is answered 503.
    const late = await fetch(`${url}/v1/models`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(late);
    const text =
      new TextDecoder().decode(first.value) +
      (await within(20_000, 'the stream did not end', readAll(reader)));
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(text).toContain('"finish_reason":"length"');
    const [code] = await within(15_000, 'the process did not exit after the drain', exited);
    expect(code).toBe(0);
  });

  it('a stream longer than the drain timeout is cut cleanly and the process exits 0', async () => {
    const { child, url } = await spawnServer(300);
    const res = await openStream(url, 250);
    const reader = res.body!.getReader();
    await reader.read();
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const text = await within(20_000, 'the stream was not cut', readAll(reader));
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const [code] = await within(15_000, 'the process did not exit after the drain', exited);
    expect(code).toBe(0);
  });
});

describe('main.js timeout flags', () => {
  const mainJs = fileURLToPath(new URL('../dist/main.js', import.meta.url));

  it.each([
    ['--request-timeout-ms', '2147483648', '[1, 2147483647]'],
    ['--drain-timeout-ms', '4294967296', '[0, 2147483647]'],
    ['--request-timeout-ms', '0', '[1, 2147483647]'],
  ])('%s %s exits 2 naming the range, before loading the model', async (flag, value, range) => {
    expect(existsSync(mainJs), `build the package first (npm run build -w @ternion/server): ${mainJs}`).toBe(
      true,
    );
    const child = spawn(process.execPath, [mainJs, '--model', MODEL_PATH, '--port', '0', flag, value], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    expect(code).toBe(2);
    expect(stderr).toContain(`${flag} must be an integer in ${range}, got '${value}'`);
  });
});
