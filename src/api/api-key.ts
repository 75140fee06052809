import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route answers without the API key (e.g. /healthz, /ca.pem). Default true. */
    auth?: boolean;
  }
}

const MIN_KEY_LENGTH = 16;
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Requires the admin API key on every route whose config does not say `auth: false`. The key
 * comes as `X-API-Key: <key>` or `Authorization: Bearer <key>`. Both sides are hashed to
 * SHA-256 before `timingSafeEqual`, so the comparison takes the same time whatever the
 * presented key's length. Failures throw ApiError('unauthorized') for the error handler. The hook
 * is added to `app` itself, not to an encapsulated plugin, so it covers every route of the app.
 * `apiKey`: at least 16 characters.
 */
export function requireApiKey(app: FastifyInstance, apiKey: string): void {
  if (typeof apiKey !== 'string' || apiKey.length < MIN_KEY_LENGTH) {
    throw new TypeError(`requireApiKey: apiKey must be a string of at least ${MIN_KEY_LENGTH} characters`);
  }
  const expected = digest(apiKey);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.auth === false) return;
    const presented = presentedKey(request);
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      throw new ApiError('unauthorized', 'missing or invalid API key: send X-API-Key: <key> or Authorization: Bearer <key>');
    }
  });
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  const authorization = request.headers.authorization;
  return authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
