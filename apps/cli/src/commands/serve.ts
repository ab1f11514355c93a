import { MAX_TIMER_MS, startServer } from '@ternion/server';
import { type Command, Option } from 'commander';
import { resolveModelPath } from '../load.js';
import { parseIntArg } from '../options.js';

interface ServeFlags {
  model?: string;
  host: string;
  port: number;
  threads?: number;
  ctxSize?: number;
  parallel: number;
  batchSize?: number;
  apiKey?: string[];
  apiKeysFile?: string;
  maxQueue?: number;
  requestTimeout?: number;
  drainTimeout?: number;
  kvCacheTokens?: number;
  publicMetrics?: boolean;
  publicReady?: boolean;
  rpm?: number;
  tpm?: number;
  logLevel: string;
  logPrompts?: boolean;
  outputInt8?: boolean;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, /v1/models, /health, /ready, /metrics)',
    )
    .addOption(new Option('-m, --model <path>', 'GGUF model file (default: the bundled model)'))
    .addOption(new Option('--host <host>', 'address to listen on').default('127.0.0.1'))
    .addOption(new Option('-p, --port <n>', 'port').argParser(parseIntArg('--port', 0, 65535)).default(8080))
    .addOption(new Option('-t, --threads <n>', 'native threads').argParser(parseIntArg('--threads', 1, 256)))
    .addOption(
      new Option('-c, --ctx-size <n>', 'tokens per sequence').argParser(parseIntArg('--ctx-size', 16)),
    )
    .addOption(
      new Option('--parallel <n>', 'sequences generating at once (continuous batching)')
        .argParser(parseIntArg('--parallel', 1, 1024))
        .default(4),
    )
    .addOption(
      new Option('-b, --batch-size <n>', 'tokens per forward pass').argParser(
        parseIntArg('--batch-size', 1, 8192),
      ),
    )
    .addOption(
      new Option(
        '--kv-cache-tokens <n>',
        'KV cache tokens shared by all sequences (default parallel × ctx-size); smaller: the youngest sequence is preempted and recomputed when it runs out',
      ).argParser(parseIntArg('--kv-cache-tokens', 16)),
    )
    .addOption(
      new Option(
        '--api-key <key...>',
        'accepted Bearer keys (or TERNION_API_KEYS, comma-separated); every route but /health then needs one',
      ),
    )
    .addOption(new Option('--api-keys-file <file>', 'file of keys, one per line (plain or sha256:<hex>)'))
    .addOption(
      new Option('--max-queue <n>', 'requests waiting for a sequence before 503').argParser(
        parseIntArg('--max-queue', 0),
      ),
    )
    .addOption(
      new Option(
        '--request-timeout <ms>',
        'deadline per request: 504 deadline_exceeded (or an error event in a started stream) after it',
      ).argParser(parseIntArg('--request-timeout', 1, MAX_TIMER_MS)),
    )
    .addOption(
      new Option(
        '--drain-timeout <ms>',
        'on SIGTERM/SIGINT, how long running generations may finish before they are cut',
      )
        .argParser(parseIntArg('--drain-timeout', 0, MAX_TIMER_MS))
        .default(30_000),
    )
    .addOption(
      new Option('--public-metrics', 'serve /metrics without an API key (for a scraper without one)'),
    )
    .addOption(new Option('--public-ready', 'serve /ready without an API key (for a probe without one)'))
    .addOption(new Option('--rpm <n>', 'requests per minute per key').argParser(parseIntArg('--rpm', 1)))
    .addOption(new Option('--tpm <n>', 'tokens per minute per key').argParser(parseIntArg('--tpm', 1)))
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .addOption(new Option('--log-prompts', 'log prompts and completions (off by default)'))
    .addOption(
      new Option('--output-int8', 'keep an int8 copy of the output matrix (faster, tiny accuracy cost)'),
    )
    .action(async (flags: ServeFlags) => {
      const envKeys = process.env.TERNION_API_KEYS?.split(',')
        .map((k) => k.trim())
        .filter(Boolean);
      const apiKeys = flags.apiKey ?? envKeys;
      const rateLimit =
        flags.rpm !== undefined || flags.tpm !== undefined
          ? {
              ...(flags.rpm !== undefined ? { requestsPerMinute: flags.rpm } : {}),
              ...(flags.tpm !== undefined ? { tokensPerMinute: flags.tpm } : {}),
            }
          : undefined;
      const server = await startServer({
        modelPath: resolveModelPath(flags.model),
        host: flags.host,
        port: flags.port,
        parallel: flags.parallel,
        logLevel: flags.logLevel as never,
        ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
        ...(flags.ctxSize !== undefined ? { contextSize: flags.ctxSize } : {}),
        ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
        ...(apiKeys !== undefined ? { apiKeys } : {}),
        ...(flags.apiKeysFile !== undefined ? { apiKeysFile: flags.apiKeysFile } : {}),
        ...(flags.maxQueue !== undefined ? { maxQueue: flags.maxQueue } : {}),
        ...(flags.kvCacheTokens !== undefined ? { kvCacheTokens: flags.kvCacheTokens } : {}),
        ...(flags.requestTimeout !== undefined ? { requestTimeoutMs: flags.requestTimeout } : {}),
        ...(flags.drainTimeout !== undefined ? { drainTimeoutMs: flags.drainTimeout } : {}),
        ...(flags.publicMetrics ? { publicMetrics: true } : {}),
        ...(flags.publicReady ? { publicReady: true } : {}),
        ...(rateLimit !== undefined ? { rateLimit } : {}),
        ...(flags.logPrompts ? { logPrompts: true } : {}),
        ...(flags.outputInt8 ? { outputInt8: true } : {}),
      });
      process.stderr.write(`ternion: serving on ${server.url}\n`);
    });
}
