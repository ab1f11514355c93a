import type { ServerResponse } from 'node:http';
import { TernionError } from '@ternion/engine';

/**
 * The client went away while we were writing. An ABORTED TernionError, so the engine breaker never counts
 * it as an engine failure even when the write notices the closed socket before the request's signal does.
 */
export class ClientGoneError extends TernionError {
  constructor() {
    super('ABORTED', 'client disconnected during the stream');
    this.name = 'ClientGoneError';
  }
}

/**
 * Server-sent events as OpenAI streams them: `data: <json>\n\n` per object, `data: [DONE]\n\n` at the end.
 * send() waits for 'drain' when the socket buffer is full, so a slow reader slows its own generation
 * instead of growing memory; it throws ClientGoneError once the connection is closed.
 */
export class SseWriter {
  constructor(private readonly res: ServerResponse) {}

  /** Writes status 200 and the event-stream headers. */
  open(extraHeaders: Record<string, string> = {}): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // nginx and similar proxies buffer responses unless told not to.
      'x-accel-buffering': 'no',
      ...extraHeaders,
    });
    this.res.flushHeaders();
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  async send(data: unknown): Promise<void> {
    await this.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** `[DONE]` and end of the response. */
  async done(): Promise<void> {
    if (this.closed) return;
    await this.write('data: [DONE]\n\n');
    this.res.end();
  }

  end(): void {
    if (!this.closed) this.res.end();
  }

  private write(text: string): Promise<void> {
    if (this.closed) return Promise.reject(new ClientGoneError());
    if (this.res.write(text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.res.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        this.res.off('drain', onDrain);
        reject(new ClientGoneError());
      };
      this.res.once('drain', onDrain);
      this.res.once('close', onClose);
    });
  }
}
