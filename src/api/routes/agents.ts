import type { FastifyInstance } from 'fastify';
import { logChange } from '../admin-log.js';
import { DomainError } from '../../errors.js';
import { AgentService } from '../../agents/service.js';
import type { AdminStore } from '../admin-store.js';
import { buildSandboxEnv, type SandboxEnvOptions } from '../sandbox-env.js';

type AgentParams = { Params: { agent: string } };
type KeyParams = { Params: { agent: string; key: string } };

/** Seed 004's error shape for every route here, auth failures included. */
const config = { errorStyle: 'agents' } as const;

/**
 * The agent-secrets API (docs/contract.md#agent-api) and agent registration/run:
 * `PATCH|GET /v1/agents/:agent/secrets`, `DELETE /v1/agents/:agent/secrets/:key`,
 * `GET|PUT|DELETE /v1/agents/:agent`, `GET /v1/agents`, `POST /v1/agents/:agent/run`.
 * `:agent` is the agent's id (`agt_…`) or its name.
 */
export function agentsRoutes(app: FastifyInstance, store: AdminStore, envOptions: SandboxEnvOptions): void {
  const service = new AgentService({
    agents: store.agents,
    secrets: store.secrets,
    sandboxes: store.sandboxes,
    sandboxEnv: (sandbox) => buildSandboxEnv(sandbox, envOptions),
  });

  app.get('/v1/agents', { config }, async () => service.list());

  app.get<AgentParams>('/v1/agents/:agent', { config }, async (request) => service.get(request.params.agent));

  app.put<AgentParams>('/v1/agents/:agent', { config }, async (request, reply) => {
    const { agent, created } = await service.put(request.params.agent, request.body);
    logChange(request, created ? 'agent created' : 'agent updated', { agent_id: agent.id, agent_name: agent.name });
    reply.code(created ? 201 : 200);
    return agent;
  });

  app.delete<AgentParams>('/v1/agents/:agent', { config }, async (request, reply) => {
    await service.delete(request.params.agent);
    logChange(request, 'agent deleted', { agent: request.params.agent });
    return reply.code(204).send();
  });

  app.get<AgentParams>('/v1/agents/:agent/secrets', { config }, async (request) => ({ keys: await service.keys(request.params.agent) }));

  app.patch<AgentParams>('/v1/agents/:agent/secrets', { config }, async (request) => {
    const keys = await service.setSecrets(request.params.agent, request.body);
    // setSecrets validated the body: an object of key → value under `secrets`; only its keys are logged.
    logChange(request, 'agent secrets set', { agent: request.params.agent, keys: Object.keys((request.body as { secrets: object }).secrets) });
    return { keys };
  });

  app.delete<KeyParams>('/v1/agents/:agent/secrets/:key', { config }, async (request) => {
    const keys = await service.deleteSecret(request.params.agent, request.params.key);
    logChange(request, 'agent secret deleted', { agent: request.params.agent, key: request.params.key });
    return { keys };
  });

  app.post<AgentParams>('/v1/agents/:agent/run', { config }, async (request) => service.run(request.params.agent, readRunBody(request.body)));
}

/** `POST /v1/agents/:agent/run` takes no body, or `{"sidecar": "<name>"}` to place a new sandbox (fleet mode). */
function readRunBody(body: unknown): { sidecar?: string } {
  if (body === undefined) return {};
  const sidecar = (body as { sidecar?: unknown } | null)?.sidecar;
  if (body === null || typeof body !== 'object' || Array.isArray(body) || (sidecar !== undefined && typeof sidecar !== 'string')) {
    throw new DomainError('agent_run_invalid', { problem: 'expected no body or {"sidecar": "<sidecar name>"}' });
  }
  return sidecar === undefined ? {} : { sidecar };
}
