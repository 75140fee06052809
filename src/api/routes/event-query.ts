import { ApiError } from '../../errors.js';

/** Default and largest page of audit / network events (docs/contract.md#event-queries). */
export const DEFAULT_EVENT_LIMIT = 100;
export const MAX_EVENT_LIMIT = 1000;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * One query parameter as text; absent or empty means "not given", as Superserve's handlers read
 * them. A repeated parameter is refused rather than guessed at.
 */
export function queryText(query: unknown, name: string, message: string): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new ApiError('bad_request', message);
  return value;
}

/** `limit`: a positive integer up to 1000, default 100. */
export function parseLimit(query: unknown): number {
  const message = 'limit must be a positive integer';
  const text = queryText(query, 'limit', message);
  if (text === undefined) return DEFAULT_EVENT_LIMIT;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new ApiError('bad_request', message);
  if (Number(text) > MAX_EVENT_LIMIT) throw new ApiError('bad_request', `limit must be <= ${MAX_EVENT_LIMIT}`);
  return Number(text);
}

/** One of `allowed`, e.g. the audit `status` class or the network `verdict`. */
export function parseChoice<T extends string>(query: unknown, name: string, allowed: readonly T[]): T | undefined {
  const message = `${name} must be one of: ${allowed.join(', ')}`;
  const text = queryText(query, name, message);
  if (text === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(text)) throw new ApiError('bad_request', message);
  return text as T;
}

/** An RFC 3339 timestamp with its offset, e.g. `2025-01-02T15:04:05Z`. */
export function parseTimestamp(query: unknown, name: string): Date | undefined {
  const message = `${name} must be an RFC 3339 timestamp, e.g. 2025-01-02T15:04:05Z`;
  const text = queryText(query, name, message);
  if (text === undefined) return undefined;
  const ms = RFC3339.test(text) ? Date.parse(text.replace(' ', 'T')) : NaN;
  if (Number.isNaN(ms)) throw new ApiError('bad_request', message);
  return new Date(ms);
}
