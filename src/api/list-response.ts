import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../errors.js';
import { decodeListCursor, encodeListCursor, type ListCursor, type ListPage, type PageRequest } from '../store/list-page.js';
import type { Awaitable } from './admin-store.js';
import { BAD_CURSOR } from './error-envelope.js';
import { parseLimit, queryText } from './routes/event-query.js';

/** How a list was asked for: whole (no `limit`, no `cursor`), or one page of `limit` items. */
export interface ListQuery {
  readonly paged: boolean;
  readonly limit: number;
  readonly after: ListCursor | undefined;
}

/**
 * `?limit&cursor`. Without either, the whole list as a bare array, as Superserve answers (and
 * its SDKs expect); with either, one page `{data, next_cursor, has_more}`, the network log's shape:
 * `limit` 1–1000 (default 100), `cursor` a previous page's `next_cursor`.
 */
export function parseListQuery(query: unknown): ListQuery {
  const limitText = queryText(query, 'limit', 'limit must be a positive integer');
  const cursorText = queryText(query, 'cursor', BAD_CURSOR);
  const after = cursorText === undefined ? undefined : decodeListCursor(cursorText);
  if (cursorText !== undefined && after === undefined) throw new ApiError('bad_request', BAD_CURSOR);
  const paged = limitText !== undefined || cursorText !== undefined;
  return { paged, limit: paged ? parseLimit(query) : Number.POSITIVE_INFINITY, after };
}

/**
 * Sends a list read `chunk` items at a time, each chunk serialised and written before the next is
 * read, with a turn of the event loop in between: a list of 10,000 sandboxes (≈ 12 MB) never holds
 * the proxy's thread for more than one chunk (a few ms), and is never built whole in memory. The
 * first chunk is read before anything is sent, so a bad cursor is still a 400. Chunks are read one
 * after another, not in one snapshot: a change made meanwhile may or may not show.
 */
export async function sendList<T>(
  reply: FastifyReply,
  query: ListQuery,
  chunk: number,
  read: (page: PageRequest) => Awaitable<ListPage<T>>,
  toWire: (item: T) => unknown,
): Promise<FastifyReply> {
  const first = await read({ after: query.after, limit: Math.min(chunk, query.limit) });
  async function* body(): AsyncGenerator<string> {
    let page = first;
    let sent = 0;
    yield query.paged ? '{"data":[' : '[';
    for (;;) {
      let text = '';
      for (const item of page.items) text += (sent++ === 0 ? '' : ',') + JSON.stringify(toWire(item));
      yield text;
      const left = query.limit - sent;
      if (page.next === undefined || left <= 0) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
      page = await read({ after: page.next, limit: Math.min(chunk, left) });
    }
    if (!query.paged) yield ']';
    else yield `],"next_cursor":${page.next ? JSON.stringify(encodeListCursor(page.next)) : 'null'},"has_more":${page.next !== undefined}}`;
  }
  return reply.type('application/json; charset=utf-8').send(Readable.from(body(), { objectMode: false }));
}
