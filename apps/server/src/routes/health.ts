import type { FastifyInstance } from 'fastify';
import type { ServerState } from '../server-state.js';

/** Probes and metrics: public (no auth, no rate limit) — orchestrators and scrapers call them. */
export function registerHealth(app: FastifyInstance, state: ServerState): void {
  // Liveness: answers while the process and its event loop run, whatever the engine does.
  app.get('/health', async () => ({ status: 'ok' }));

  // Readiness: send traffic here only when a completion could succeed.
  app.get('/ready', async (_request, reply) => {
    const breaker = state.breaker.state;
    const reasons: string[] = [];
    if (!state.loaded) reasons.push('model not loaded');
    if (state.shutdown.draining) reasons.push('draining');
    if (breaker === 'open') reasons.push('engine breaker open');
    const ready = reasons.length === 0;
    void reply.code(ready ? 200 : 503);
    return {
      status: ready ? 'ready' : 'not_ready',
      reasons,
      model: state.engine.modelId,
      breaker,
      active_sequences: state.activeSequences,
      queued: state.admission.queued,
    };
  });

  app.get('/metrics', async (_request, reply) => {
    void reply.type(state.metrics.contentType);
    return state.metrics.metrics();
  });
}
