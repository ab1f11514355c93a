import { HttpError } from '@ternion/hardening';
import type { FastifyInstance } from 'fastify';
import type { ServerState } from '../server-state.js';

export function registerModels(app: FastifyInstance, state: ServerState): void {
  const model = () => ({
    id: state.engine.modelId,
    object: 'model' as const,
    created: state.engine.created,
    owned_by: 'ternion',
  });
  app.get('/v1/models', async () => ({ object: 'list', data: [model()] }));
  app.get<{ Params: { model: string } }>('/v1/models/:model', async (request) => {
    if (request.params.model !== state.engine.modelId) {
      throw new HttpError(404, `The model '${request.params.model}' does not exist`, {
        param: 'model',
        code: 'model_not_found',
      });
    }
    return model();
  });
}
