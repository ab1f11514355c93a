#!/usr/bin/env node
/**
 * `node dist/main.js --model <file.gguf> [--port 8080] ...`: the server without the CLI package (the
 * `ternion serve` command calls startServer the same way).
 */
import { parseArgs } from 'node:util';
import { MAX_TIMER_MS } from '@ternion/hardening';
import type { LogLevel } from './server.js';
import { startServer } from './start-server.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    threads: { type: 'string' },
    'context-size': { type: 'string' },
    parallel: { type: 'string' },
    'api-key': { type: 'string', multiple: true },
    'api-keys-file': { type: 'string' },
    'max-queue': { type: 'string' },
    'drain-timeout-ms': { type: 'string' },
    'request-timeout-ms': { type: 'string' },
    'kv-cache-tokens': { type: 'string' },
    'public-metrics': { type: 'boolean' },
    'public-ready': { type: 'boolean' },
    'log-level': { type: 'string' },
    'log-prompts': { type: 'boolean' },
  },
});

/** `--name`'s value as an integer (in [min, max] when `range` is given), or exit 2 saying what was expected. */
const int = (
  name: string,
  v: string | undefined,
  range?: readonly [min: number, max: number],
): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || (range !== undefined && (n < range[0] || n > range[1]))) {
    const expected = range === undefined ? 'an integer' : `an integer in [${range[0]}, ${range[1]}]`;
    process.stderr.write(`--${name} must be ${expected}, got '${v}'\n`);
    process.exit(2);
  }
  return n;
};

if (values.model === undefined) {
  process.stderr.write(
    'usage: main.js --model <file.gguf> [--host 127.0.0.1] [--port 8080] [--parallel 4] ...\n',
  );
  process.exit(2);
}

const opt = <K extends string, V>(key: K, v: V | undefined) =>
  v === undefined ? {} : ({ [key]: v } as Record<K, V>);

const server = await startServer({
  modelPath: values.model,
  ...opt('host', values.host),
  ...opt('port', int('port', values.port)),
  ...opt('threads', int('threads', values.threads)),
  ...opt('contextSize', int('context-size', values['context-size'])),
  ...opt('parallel', int('parallel', values.parallel)),
  ...opt('apiKeys', values['api-key']),
  ...opt('apiKeysFile', values['api-keys-file']),
  ...opt('maxQueue', int('max-queue', values['max-queue'])),
  // Bounded by setTimeout's limit: Node turns a longer delay into 1 ms.
  ...opt('drainTimeoutMs', int('drain-timeout-ms', values['drain-timeout-ms'], [0, MAX_TIMER_MS])),
  ...opt('requestTimeoutMs', int('request-timeout-ms', values['request-timeout-ms'], [1, MAX_TIMER_MS])),
  ...opt('kvCacheTokens', int('kv-cache-tokens', values['kv-cache-tokens'])),
  ...opt('publicMetrics', values['public-metrics']),
  ...opt('publicReady', values['public-ready']),
  ...opt('logLevel', values['log-level'] as LogLevel | undefined),
  ...opt('logPrompts', values['log-prompts']),
});
server.app.log.info({ url: server.url }, 'ternion server ready');
