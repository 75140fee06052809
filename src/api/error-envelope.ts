import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, type ApiErrorCode } from '../errors.js';

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
}

/** The agents envelope's 401 text (docs/contract.md#agent-api). */
const AGENTS_UNAUTHENTICATED = 'Not authenticated';

/**
 * Maps anything thrown in a route to what the client sees. Only ApiError messages and fixed
 * texts reach the client: a parser's own message can quote the body, and the body can hold a
 * credential. `internal` is true when the cause must be logged as a bug.
 */
export function toFailure(err: unknown): ApiFailure & { internal: boolean } {
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message, internal: false };
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
    return reply.send({ status: failure.status, detail, details: {} });
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
    frames: err.stack?.split('\n').slice(1, 8).map((line) => line.trim()),
  };
}
