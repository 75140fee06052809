import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../errors.js';
import { parseAttachBinding, parseCreateSandbox } from '../../secrets/validate-sandbox.js';
import type { SandboxRecord } from '../../store/index.js';
import { logChange } from '../admin-log.js';
import type { AdminStore } from '../admin-store.js';
import { parseListQuery, sendList } from '../list-response.js';
import { buildSandboxEnv, type SandboxEnvOptions } from '../sandbox-env.js';

/** Sandboxes read and written per chunk of a list: ≈ 40 µs each with its env, ≈ 2 ms a chunk. */
const SANDBOX_CHUNK = 50;

interface IdParams {
  id: string;
}

/** `/sandboxes` CRUD and binding attach/detach (docs/contract.md#admin-api, #sandboxes). */
export function sandboxRoutes(app: FastifyInstance, store: AdminStore, envOptions: SandboxEnvOptions): void {
  const toWire = (sandbox: SandboxRecord) => ({
    id: sandbox.id,
    name: sandbox.name,
    status: sandbox.status,
    created_at: sandbox.createdAt,
    access_token: sandbox.accessToken,
    secrets: sandbox.bindings.map((b) => ({ env_key: b.envKey, secret_name: b.secretName, revoked: b.revoked !== null })),
    network: sandbox.network,
    metadata: sandbox.metadata,
    // Only when declared, so a sandbox that uses none keeps exactly the contract's shape.
    ...(sandbox.sourceAddresses.length > 0 && { source_addresses: sandbox.sourceAddresses }),
    ...(sandbox.expiresAt !== null && { expires_at: sandbox.expiresAt }),
    env: buildSandboxEnv(sandbox, envOptions),
  });

  app.post('/sandboxes', async (request, reply) => {
    const sandbox = await store.sandboxes.create(parseCreateSandbox(request.body));
    logChange(request, 'sandbox created', {
      sandbox_id: sandbox.id,
      sandbox_name: sandbox.name,
      bindings: Object.fromEntries(sandbox.bindings.map((b) => [b.envKey, b.secretName])),
    });
    return reply.code(201).send(toWire(sandbox));
  });

  app.get('/sandboxes', async (request, reply) =>
    sendList(reply, parseListQuery(request.query), SANDBOX_CHUNK, (page) => store.sandboxes.listPage(page), toWire),
  );

  app.get<{ Params: IdParams }>('/sandboxes/:id', async (request) => {
    const sandbox = await store.sandboxes.get(request.params.id);
    if (!sandbox) throw new DomainError('sandbox_not_found', { id: request.params.id });
    return toWire(sandbox);
  });

  app.delete<{ Params: IdParams }>('/sandboxes/:id', async (request, reply) => {
    await store.sandboxes.delete(request.params.id);
    logChange(request, 'sandbox deleted', { sandbox_id: request.params.id });
    return reply.code(204).send();
  });

  app.post<{ Params: IdParams }>('/sandboxes/:id/secrets', async (request, reply) => {
    const { env_key, secret_name } = parseAttachBinding(request.body);
    const binding = await store.sandboxes.attach(request.params.id, env_key, secret_name);
    logChange(request, 'binding attached', { sandbox_id: request.params.id, env_key, secret_name });
    return reply.code(201).send(binding);
  });

  app.delete<{ Params: IdParams & { env_key: string } }>('/sandboxes/:id/secrets/:env_key', async (request, reply) => {
    await store.sandboxes.detach(request.params.id, request.params.env_key);
    logChange(request, 'binding detached', { sandbox_id: request.params.id, env_key: request.params.env_key });
    return reply.code(204).send();
  });
}
