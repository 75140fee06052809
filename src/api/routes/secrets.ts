import type { FastifyInstance } from 'fastify';
import { ApiError, DomainError } from '../../errors.js';
import { parseCreateSecret, parseRotateSecret, secretNameProblem } from '../../secrets/validate-secret.js';
import { logChange } from '../admin-log.js';
import type { AdminStore } from '../admin-store.js';
import { parseListQuery, sendList } from '../list-response.js';
import { toSecretInfo, toSecretSandboxBinding } from '../secret-wire.js';

/** Items read and written per chunk of a list: secrets and bindings cost ≈ 5 µs each. */
const CHUNK = 200;

interface NameParams {
  name: string;
}

/** `/secrets` CRUD and `/secrets/{name}/sandboxes` (docs/contract.md#admin-api, #secrets). */
export function secretRoutes(app: FastifyInstance, store: AdminStore): void {
  app.post('/secrets', async (request, reply) => {
    const secret = await store.secrets.create(parseCreateSecret(request.body));
    logChange(request, 'secret created', {
      secret_id: secret.id,
      secret_name: secret.name,
      auth_type: secret.authType,
      provider: secret.provider ?? undefined,
      hosts: secret.hosts,
    });
    return reply.code(201).send(toSecretInfo(secret));
  });

  app.get('/secrets', async (request, reply) => sendList(reply, parseListQuery(request.query), CHUNK, (page) => store.secrets.listPage(page), toSecretInfo));

  app.get<{ Params: NameParams }>('/secrets/:name', async (request) => toSecretInfo(await requireSecret(store, request.params.name)));

  app.patch<{ Params: NameParams }>('/secrets/:name', async (request) => {
    const name = checkedName(request.params.name);
    const { value } = parseRotateSecret(request.body);
    const secret = await store.secrets.rotate(name, value);
    logChange(request, 'secret rotated', { secret_id: secret.id, secret_name: secret.name });
    return toSecretInfo(secret);
  });

  app.delete<{ Params: NameParams }>('/secrets/:name', async (request, reply) => {
    const name = checkedName(request.params.name);
    await store.secrets.delete(name);
    logChange(request, 'secret deleted', { secret_name: name });
    return reply.code(204).send();
  });

  app.get<{ Params: NameParams }>('/secrets/:name/sandboxes', async (request, reply) => {
    const query = parseListQuery(request.query);
    const { id } = await requireSecret(store, request.params.name);
    return sendList(reply, query, CHUNK, (page) => store.sandboxes.bindingsOfSecret(id, page), toSecretSandboxBinding);
  });
}

/** Superserve validates a name in the path like one in a body: 400 before any lookup. */
function checkedName(name: string): string {
  const problem = secretNameProblem(name.trim());
  if (problem) throw new ApiError('bad_request', problem);
  return name;
}

async function requireSecret(store: AdminStore, name: string) {
  const secret = await store.secrets.getByName(checkedName(name));
  if (!secret) throw new DomainError('secret_not_found', { name });
  return secret;
}
