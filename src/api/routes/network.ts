import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.js';
import { NETWORK_VERDICTS, decodeCursor } from '../../store/events.js';
import type { AdminStore } from '../admin-store.js';
import { parseChoice, parseLimit, parseTimestamp, queryText } from './event-query.js';

/** `GET /sandboxes/:id/network?limit&before&since&verdict` → `{data, next_cursor, has_more}`. */
export function networkRoutes(app: FastifyInstance, store: Pick<AdminStore, 'events' | 'sandboxes'>): void {
  app.get<{ Params: { id: string } }>('/sandboxes/:id/network', async (request) => {
    const limit = parseLimit(request.query);
    const cursor = parseCursor(request.query);
    const since = parseTimestamp(request.query, 'since');
    const verdict = parseChoice(request.query, 'verdict', NETWORK_VERDICTS);
    if ((await store.sandboxes.get(request.params.id)) === undefined) throw new ApiError('not_found', 'Sandbox not found');
    return store.events.networkForSandbox(request.params.id, { limit, cursor, since, verdict });
  });
}

/** `before`: an opaque cursor, the `next_cursor` of a previous page. */
function parseCursor(query: unknown): number | undefined {
  const message = 'before must be the next_cursor of a previous page';
  const text = queryText(query, 'before', message);
  if (text === undefined) return undefined;
  const id = decodeCursor(text);
  if (id === undefined) throw new ApiError('bad_request', message);
  return id;
}
