import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.js';
import { parseCreateSecret, parseRotateSecret, secretNameProblem } from '../../secrets/validate-secret.js';
import type { Store } from '../../store/index.js';

interface NameParams {
  name: string;
}

/** `/secrets` CRUD and `/secrets/{name}/sandboxes` (CONTRACT §4, superserve-api-facts §2–3). */
export function secretRoutes(app: FastifyInstance, store: Store): void {
  app.post('/secrets', async (request, reply) => reply.code(201).send(store.secrets.create(parseCreateSecret(request.body))));

  app.get('/secrets', async () => store.secrets.list());

  app.get<{ Params: NameParams }>('/secrets/:name', async (request) => requireSecret(store, request.params.name));

  app.patch<{ Params: NameParams }>('/secrets/:name', async (request) => {
    const name = checkedName(request.params.name);
    const { value } = parseRotateSecret(request.body);
    return store.secrets.rotate(name, value);
  });

  app.delete<{ Params: NameParams }>('/secrets/:name', async (request, reply) => {
    store.secrets.delete(checkedName(request.params.name));
    return reply.code(204).send();
  });

  app.get<{ Params: NameParams }>('/secrets/:name/sandboxes', async (request) =>
    store.sandboxes.bindingsOfSecret(requireSecret(store, request.params.name).id));
}

/** Superserve validates a name in the path like one in a body: 400 before any lookup. */
function checkedName(name: string): string {
  const problem = secretNameProblem(name.trim());
  if (problem) throw new ApiError('bad_request', problem);
  return name;
}

function requireSecret(store: Store, name: string) {
  const secret = store.secrets.getByName(checkedName(name));
  if (!secret) throw new ApiError('not_found', 'Secret not found');
  return secret;
}
