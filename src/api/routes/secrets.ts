import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.js';
import { parseCreateSecret, parseRotateSecret, secretNameProblem } from '../../secrets/validate-secret.js';
import type { AdminStore } from '../admin-store.js';

interface NameParams {
  name: string;
}

/** `/secrets` CRUD and `/secrets/{name}/sandboxes` (docs/contract.md#admin-api, #secrets). */
export function secretRoutes(app: FastifyInstance, store: AdminStore): void {
  app.post('/secrets', async (request, reply) => reply.code(201).send(await store.secrets.create(parseCreateSecret(request.body))));

  app.get('/secrets', async () => store.secrets.list());

  app.get<{ Params: NameParams }>('/secrets/:name', async (request) => requireSecret(store, request.params.name));

  app.patch<{ Params: NameParams }>('/secrets/:name', async (request) => {
    const name = checkedName(request.params.name);
    const { value } = parseRotateSecret(request.body);
    return store.secrets.rotate(name, value);
  });

  app.delete<{ Params: NameParams }>('/secrets/:name', async (request, reply) => {
    await store.secrets.delete(checkedName(request.params.name));
    return reply.code(204).send();
  });

  app.get<{ Params: NameParams }>('/secrets/:name/sandboxes', async (request) =>
    store.sandboxes.bindingsOfSecret((await requireSecret(store, request.params.name)).id));
}

/** Superserve validates a name in the path like one in a body: 400 before any lookup. */
function checkedName(name: string): string {
  const problem = secretNameProblem(name.trim());
  if (problem) throw new ApiError('bad_request', problem);
  return name;
}

async function requireSecret(store: AdminStore, name: string) {
  const secret = await store.secrets.getByName(checkedName(name));
  if (!secret) throw new ApiError('not_found', 'Secret not found');
  return secret;
}
