import { type LoadModelOptions, loadModel } from '@ternion/engine';
import { ModelEngine } from './engine-host.js';
import { type CreateServerOptions, createServer, type TernionServer } from './server.js';

export interface StartServerOptions extends Omit<CreateServerOptions, 'engine' | 'ownsEngine'> {
  /** GGUF model file. */
  modelPath: string;
  /** Model id shown to clients (default: file name without .gguf). */
  modelId?: string;
  /** Native kernel threads (default: the engine's choice). */
  threads?: number;
  /** Tokens per sequence (default: the model's context, at most 4096). */
  contextSize?: number;
  /** Sequences generating at once, merged into shared forward passes (default 4). */
  parallel?: number;
  /** Tokens per forward pass (default: the engine's). */
  batchSize?: number;
  /** KV cache tokens shared by all sequences (default contextSize × parallel; smaller ⇒ preemption). */
  kvCacheTokens?: number;
  /** Drain and exit(0) on SIGTERM / SIGINT (default true). */
  handleSignals?: boolean;
  /** Keep an int8 copy of the output matrix (faster decode and batched steps; see the engine README). */
  outputInt8?: boolean;
  /** Ternary GEMM choice ('auto' measures per shape; see @ternion/tmac). */
  ternaryKernel?: LoadModelOptions['ternaryKernel'];
}

export interface StartedServer extends TernionServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
}

/** Loads the model, starts listening, and (by default) drains and exits 0 on SIGTERM / SIGINT. */
export async function startServer(options: StartServerOptions): Promise<StartedServer> {
  const {
    modelPath,
    modelId,
    threads,
    contextSize,
    parallel,
    batchSize,
    kvCacheTokens,
    handleSignals,
    outputInt8,
    ternaryKernel,
    ...serverOptions
  } = options;
  const model = await loadModel(modelPath, {
    ...(threads === undefined ? {} : { threads }),
    ...(outputInt8 === undefined ? {} : { outputInt8 }),
    ...(ternaryKernel === undefined ? {} : { ternaryKernel }),
  });
  const engine = await ModelEngine.create(model, {
    parallel: parallel ?? 4,
    ...(modelId === undefined ? {} : { modelId }),
    ...(contextSize === undefined ? {} : { contextSize }),
    ...(batchSize === undefined ? {} : { batchSize }),
    ...(kvCacheTokens === undefined ? {} : { kvCacheTokens }),
  });
  const server = createServer({ ...serverOptions, engine, ownsEngine: true });
  const url = await server.start();
  if (handleSignals ?? true) {
    // First SIGTERM/SIGINT drains; a second one cuts the grace period short (hardening's GracefulShutdown).
    server.state.shutdown.install(process);
    void server.state.shutdown.finished.then(async () => {
      await server.close().catch((e: unknown) => server.app.log.error({ err: e }, 'error while closing'));
      model.dispose();
      process.exit(0);
    });
  }
  return { ...server, url };
}
