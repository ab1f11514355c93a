// The longest duration the server's timers accept (Node turns a longer setTimeout into 1 ms): for the CLI's flags.
export { MAX_TIMER_MS } from '@ternion/hardening';
export { type PlainMessage, plainMessages, type RenderedChat } from './chat-template.js';
export {
  type KvStats,
  ModelEngine,
  type ModelEngineOptions,
  type ServerEngine,
  type ServerSequence,
} from './engine-host.js';
export { type CreateServerOptions, createServer, type LogLevel, type TernionServer } from './server.js';
export { type StartedServer, type StartServerOptions, startServer } from './start-server.js';
