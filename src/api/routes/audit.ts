import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.js';
import { AUDIT_STATUS_FILTERS } from '../../store/events.js';
import type { AdminStore } from '../admin-store.js';
import { parseChoice, parseLimit, queryText } from './event-query.js';

/** `GET /secrets/:name/audit?limit&before&status` → ProxyAuditEvent[], newest first. */
export function auditRoutes(app: FastifyInstance, store: Pick<AdminStore, 'events' | 'secrets'>): void {
  app.get<{ Params: { name: string } }>('/secrets/:name/audit', async (request) => {
    const limit = parseLimit(request.query);
    const before = parseEventId(request.query);
    const status = parseChoice(request.query, 'status', AUDIT_STATUS_FILTERS);
    const secret = await store.secrets.getByName(request.params.name);
    if (secret === undefined) throw new ApiError('not_found', 'Secret not found');
    return store.events.auditForSecret(secret.id, { limit, before, status });
  });
}

/** `before`: a numeric event id, exclusive. */
function parseEventId(query: unknown): number | undefined {
  const message = 'before must be a positive integer';
  const text = queryText(query, 'before', message);
  if (text === undefined) return undefined;
  const id = Number(text);
  if (!/^\d+$/.test(text) || id < 1 || !Number.isSafeInteger(id)) throw new ApiError('bad_request', message);
  return id;
}
