import { DomainError } from '../errors.js';

/**
 * A position in a list: the sort key of the last item a page held, in the form the store that
 * made it reads back (SQLite: `[created_at, rowid]`; PostgreSQL: `[seq]` …). Opaque to clients.
 */
export type ListCursor = readonly (string | number)[];

/** One request for a page of a list, in the list's order. */
export interface PageRequest {
  /** Start after this item; undefined for the first page. */
  readonly after?: ListCursor | undefined;
  readonly limit: number;
}

/** A page: its items and, when more follow, the cursor the next page starts after. */
export interface ListPage<T> {
  readonly items: T[];
  readonly next: ListCursor | undefined;
}

const PREFIX = 'l1:';

/** The cursor as the `next_cursor` clients send back as `cursor`. */
export function encodeListCursor(cursor: ListCursor): string {
  return Buffer.from(PREFIX + JSON.stringify(cursor)).toString('base64url');
}

/** A cursor made by encodeListCursor, or undefined when `text` is not one. */
export function decodeListCursor(text: string): ListCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64url').toString('utf8');
  if (!decoded.startsWith(PREFIX)) return undefined;
  try {
    const parsed: unknown = JSON.parse(decoded.slice(PREFIX.length));
    const ok = Array.isArray(parsed) && parsed.length > 0 && parsed.length <= 4 && parsed.every((v) => typeof v === 'string' || Number.isSafeInteger(v));
    return ok ? (parsed as ListCursor) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A store's own cursor shape out of `after`: the values in order, each of the type given;
 * `bad_cursor` when it is not one this list makes.
 */
export function cursorKey<const T extends readonly ('string' | 'number')[]>(
  after: ListCursor | undefined,
  ...types: T
): { [K in keyof T]: T[K] extends 'string' ? string : number } | undefined {
  if (after === undefined) return undefined;
  if (after.length !== types.length || !after.every((v, i) => typeof v === types[i])) throw new DomainError('bad_cursor');
  return after as never;
}

/** A page from `limit + 1` rows read in order: has more when the extra row came. */
export function pageOf<R, T>(rows: R[], limit: number, toItem: (row: R) => T, keyOf: (row: R) => ListCursor): ListPage<T> {
  const more = rows.length > limit;
  if (more) rows.length = limit;
  return { items: rows.map(toItem), next: more ? keyOf(rows[rows.length - 1]!) : undefined };
}
