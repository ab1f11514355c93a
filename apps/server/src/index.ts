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
