import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, DomainError, type ApiErrorCode, type DomainErrorCode } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `agents` for the agent-secrets routes (docs/contract.md#agent-api), whose errors are
     * `{"status","detail","details"}`; every other route answers `{"error":{"code","message"}}`.
     */
    errorStyle?: 'agents';
  }
}

/** An error ready to be written: status, envelope code and a message safe to show. */
export interface ApiFailure {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly message: string;
  /** The agents envelope's `details`; `{}` when absent. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The message for a cursor that no page of this list made. */
export const BAD_CURSOR = 'cursor must be the next_cursor of a previous page';

type Facts = Readonly<Record<string, unknown>>;

interface DomainFailure {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly message: (facts: Facts) => string;
  /**
   * The agents envelope's `details`. A 404 carries its code there, so a client tells a missing
   * agent from a missing key without reading the text.
   */
  readonly details?: (facts: Facts, code: DomainErrorCode) => Record<string, unknown>;
}

const quoted = (value: unknown): string => JSON.stringify(value);
const asIs = (facts: Facts): Record<string, unknown> => ({ ...facts });
const coded = (facts: Facts, code: DomainErrorCode): Record<string, unknown> => ({ code, ...facts });

/**
 * Every domain error as the client sees it: status, envelope code and message. The messages are
 * Superserve's where it has one (docs/contract.md#admin-api, #agent-api), byte for byte.
 */
const DOMAIN_FAILURES: { readonly [C in DomainErrorCode]: DomainFailure } = {
  secret_not_found: {
    status: 404,
    code: 'not_found',
    message: () => 'Secret not found',
    details: (f, code) => coded(f.key === undefined ? {} : { key: f.key }, code),
  },
  secret_name_taken: { status: 409, code: 'conflict', message: (f) => `a secret named ${quoted(f.name)} already exists` },
  sandbox_not_found: { status: 404, code: 'not_found', message: () => 'Sandbox not found' },
  // Superserve's shape for a duplicate name (its secrets' 409).
  sandbox_name_taken: { status: 409, code: 'conflict', message: (f) => `a sandbox named ${quoted(f.name)} already exists` },
  address_claimed: {
    status: 409,
    code: 'conflict',
    message: (f) => {
      const holder = f.holder as { id: string; name: string } | undefined;
      return `source_addresses[${f.index as number}]: ${f.address as string} is already declared by ${holder ? `sandbox ${quoted(holder.name)} (${holder.id})` : 'another sandbox'}; an address identifies one sandbox`;
    },
  },
  binding_secret_missing: {
    status: 400,
    code: 'secret_not_found',
    message: (f) => `secrets[${f.envKey as string}] references ${quoted(f.secretName)}, which does not exist for this team`,
  },
  binding_limit: { status: 400, code: 'bad_request', message: (f) => `sandbox already has the max ${f.max as number} secret bindings` },
  env_key_bound: { status: 409, code: 'conflict', message: (f) => `env-var key ${quoted(f.envKey)} is already bound on this sandbox` },
  env_key_in_env_vars: { status: 409, code: 'conflict', message: (f) => `env-var key ${quoted(f.envKey)} is already set in env_vars on this sandbox` },
  env_key_not_bound: { status: 404, code: 'not_found', message: (f) => `no secret bound under env-var key ${quoted(f.envKey)} on this sandbox` },
  bad_cursor: { status: 400, code: 'bad_request', message: () => BAD_CURSOR },
  sidecar_name_invalid: {
    status: 400,
    code: 'bad_request',
    message: () => 'name must be 1-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit',
  },
  sidecar_name_taken: { status: 409, code: 'conflict', message: (f) => `a sidecar named ${quoted(f.name)} already exists` },
  sidecar_not_found: { status: 404, code: 'not_found', message: () => 'Sidecar not found' },
  agent_not_found: { status: 404, code: 'not_found', message: () => 'Agent not found', details: coded },
  agent_name_taken: { status: 409, code: 'conflict', message: (f) => `An agent named '${f.name as string}' already exists` },
  agent_name_invalid: { status: 422, code: 'unprocessable_entity', message: () => 'Invalid agent name', details: asIs },
  agent_invalid: { status: 422, code: 'unprocessable_entity', message: () => 'Invalid agent definition', details: asIs },
  agent_secrets_invalid: { status: 422, code: 'unprocessable_entity', message: () => 'Invalid secret format', details: asIs },
  agent_secrets_missing: {
    status: 422,
    code: 'unprocessable_entity',
    message: (f) => `Missing required secret(s): ${(f.missing as string[]).join(', ')}`,
    details: asIs,
  },
  agent_sandbox_elsewhere: {
    status: 409,
    code: 'conflict',
    message: (f) => `The agent's sandbox is served by ${typeof f.sidecar === 'string' ? `sidecar '${f.sidecar}'` : 'no sidecar'}`,
    details: asIs,
  },
  agent_run_invalid: { status: 422, code: 'unprocessable_entity', message: () => 'Invalid run request', details: asIs },
};

/** The agents envelope's 401 text (docs/contract.md#agent-api). */
const AGENTS_UNAUTHENTICATED = 'Not authenticated';

/**
 * Maps anything thrown in a route to what the client sees. Only ApiError messages and fixed
 * texts reach the client: a parser's own message can quote the body, and the body can hold a
 * credential. `internal` is true when the cause must be logged as a bug.
 */
export function toFailure(err: unknown): ApiFailure & { internal: boolean } {
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message, internal: false };
  if (err instanceof DomainError) {
    const failure = DOMAIN_FAILURES[err.code];
    return {
      status: failure.status,
      code: failure.code,
      message: failure.message(err.facts),
      details: failure.details?.(err.facts, err.code) ?? {},
      internal: false,
    };
  }
  const fastifyCode = (err as { code?: unknown }).code;
  switch (fastifyCode) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'payload_too_large', message: 'request body is too large', internal: false };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 400, code: 'bad_request', message: 'Content-Type must be application/json', internal: false };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'bad_request', message: 'request body is not valid JSON', internal: false };
  }
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Other client errors fastify raises (bad content length, proto poisoning, …): say which kind, not why.
    return { status: 400, code: 'bad_request', message: 'malformed request', internal: false };
  }
  return { status: 500, code: 'internal_error', message: 'internal error', internal: true };
}

/** Writes `failure` in the envelope the route asks for. */
export function sendFailure(request: FastifyRequest, reply: FastifyReply, failure: ApiFailure): FastifyReply {
  reply.code(failure.status).type('application/json; charset=utf-8');
  if (request.routeOptions.config?.errorStyle === 'agents') {
    const detail = failure.code === 'unauthorized' ? AGENTS_UNAUTHENTICATED : failure.message;
    return reply.send({ status: failure.status, detail, details: failure.details ?? {} });
  }
  return reply.send({ error: { code: failure.code, message: failure.message } });
}

/**
 * What may be logged about an unexpected error: its class, code and stack frames, never its
 * message (which may quote a value).
 */
export function describeForLog(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  return {
    type: err.name,
    code: (err as { code?: unknown }).code,
    frames: err.stack
      ?.split('\n')
      .slice(1, 8)
      .map((line) => line.trim()),
  };
}
