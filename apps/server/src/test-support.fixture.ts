import { fileURLToPath } from 'node:url';
import {
  type GenerateOptions,
  type GenerationChunk,
  type GenerationResult,
  loadModel,
  type Model,
  type Token,
} from '@ternion/engine';
import OpenAI from 'openai';
import { ModelEngine, type ServerEngine, type ServerSequence } from './engine-host.js';
import { type CreateServerOptions, createServer, type TernionServer } from './server.js';

/** The bundled 5M-parameter TinyStories model (context 256, vocabulary 2048, no chat template). */
export const MODEL_PATH = fileURLToPath(
  new URL('../../../models/tinystories-bitnet-b158-target-5m-tq2_0.gguf', import.meta.url),
);

export function loadTestModel(): Promise<Model> {
  return loadModel(MODEL_PATH);
}

export interface TestServer {
  url: string;
  server: TernionServer;
  engine: ModelEngine;
  client: OpenAI;
  close(): Promise<void>;
}

/** A real server on 127.0.0.1 with a free port, its own context on `model`, and an OpenAI client for it. */
export async function startTestServer(
  model: Model,
  options: Omit<CreateServerOptions, 'engine'> & {
    parallel?: number;
    contextSize?: number;
    kvCacheTokens?: number;
  } = {},
  wrap: (engine: ModelEngine) => CreateServerOptions['engine'] = (e) => e,
): Promise<TestServer> {
  const { parallel, contextSize, kvCacheTokens, ...serverOptions } = options;
  const engine = await ModelEngine.create(model, {
    parallel: parallel ?? 4,
    modelId: 'tiny',
    ...(contextSize === undefined ? {} : { contextSize }),
    ...(kvCacheTokens === undefined ? {} : { kvCacheTokens }),
  });
  const server = createServer({
    logLevel: 'silent',
    port: 0,
    drainTimeoutMs: 2000,
    ...serverOptions,
    engine: wrap(engine),
  });
  const url = await server.start();
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: options.apiKeys?.[0] ?? 'none', maxRetries: 0 });
  return {
    url,
    server,
    engine,
    client,
    close: async () => {
      await server.close();
      engine.dispose();
    },
  };
}

/**
 * `engine` with its sequences' `generate` replaced by `generate(real, input, options)` (`real` is the
 * sequence's own generate), to inject faults or slowness into a real engine.
 */
export function wrapGenerate(
  engine: ModelEngine,
  generate: (
    real: ServerSequence['generate'],
    input: string | readonly Token[],
    options: GenerateOptions,
  ) => ReturnType<ServerSequence['generate']>,
): ServerEngine {
  return {
    modelId: engine.modelId,
    fingerprint: engine.fingerprint,
    created: engine.created,
    contextSize: engine.contextSize,
    parallel: engine.parallel,
    vocabSize: engine.vocabSize,
    tokenize: (text, o) => engine.tokenize(text, o),
    tokenBytes: (tok) => engine.tokenBytes(tok),
    renderChat: (m) => engine.renderChat(m),
    kvStats: () => engine.kvStats(),
    dispose: () => engine.dispose(),
    getSequence: () => {
      const seq = engine.getSequence();
      return {
        dispose: () => seq.dispose(),
        generate: (input, options) => generate((i, o) => seq.generate(i, o), input, options),
      };
    },
  };
}

/** The real generation with `ms` of sleep after every chunk: a slow engine, for deadlines. */
export function slowGenerate(ms: number) {
  return async function* slow(
    real: ServerSequence['generate'],
    input: string | readonly Token[],
    options: GenerateOptions,
  ): AsyncGenerator<GenerationChunk, GenerationResult, undefined> {
    const it = real(input, options);
    let done = false;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) {
          done = true;
          return r.value;
        }
        yield r.value;
        await new Promise((resolve) => setTimeout(resolve, ms));
      }
    } finally {
      if (!done) await it.return(undefined as unknown as GenerationResult);
    }
  };
}

/** POSTs JSON (or raw bytes) and returns status, headers and the parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  init: { headers?: Record<string, string>; raw?: string | Uint8Array } = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests index into arbitrary JSON answers
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.raw ?? JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body: parsed };
}

/** The value of one Prometheus series in a /metrics text (0 when absent). */
export function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Polls until `check()` is true or `ms` pass; returns the last result. */
export async function eventually(check: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}

/** Reads an SSE response body into its `data:` payloads (stops at the end of the body). */
export async function readSse(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));
}
