import type { Database, Statement } from 'better-sqlite3';
import type { NetworkEvent, NetworkPage, ProxyAuditEvent } from '../sdk/types.js';
import { EventRefs } from './event-refs.js';

export type { NetworkEvent, NetworkPage, ProxyAuditEvent };

/**
 * One audit/network row as the audit queue holds it: every column present (null when absent) so
 * all rows share one object shape, and `ts` kept as epoch ms until the batch is written.
 */
export interface EventRow {
  kind: 'request' | 'connection';
  /** Epoch ms. */
  ts: number;
  sandboxId: string | null;
  sandboxName: string | null;
  secretId: string | null;
  host: string | null;
  method: string | null;
  /** Without the query string. */
  path: string | null;
  status: number | null;
  upstreamStatus: number | null;
  latencyMs: number | null;
  errorCode: string | null;
  dstIp: string | null;
  dstPort: number | null;
  verdict: 'allowed' | 'blocked' | 'failed' | null;
  matchRule: string | null;
  bytesSent: number | null;
  bytesRecv: number | null;
  /** X-Credproxy-Request-Id of the request (a connection row: of the request that opened it). */
  requestId: string | null;
}

/** Status classes of the audit `status` filter; `errors` = status ≥ 400. */
export const AUDIT_STATUS_FILTERS = ['2xx', '3xx', '4xx', '5xx', 'errors'] as const;
export type AuditStatusFilter = (typeof AUDIT_STATUS_FILTERS)[number];

export const NETWORK_VERDICTS = ['allowed', 'blocked', 'failed'] as const;
export type NetworkVerdict = (typeof NETWORK_VERDICTS)[number];

export const STATUS_RANGES: Record<AuditStatusFilter, readonly [number, number]> = {
  '2xx': [200, 299],
  '3xx': [300, 399],
  '4xx': [400, 499],
  '5xx': [500, 599],
  errors: [400, Number.MAX_SAFE_INTEGER],
};
export const ANY_STATUS = [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] as const;
const CURSOR_PREFIX = 'ev1:';

/**
 * Rows per INSERT statement. One statement of many rows pays the statement's fixed cost (the
 * AUTOINCREMENT bookkeeping, binding setup) once: ≈ 8.7 → 6.8 µs a row in bench/audit-insert.ts.
 * 32 × 18 parameters stays far below SQLite's limit of 32,766.
 */
const ROWS_PER_INSERT = 32;
/** A row's values as the audit queue writes them (and the view `event_rows` shows them); laid out as a table. */
// prettier-ignore
export const INSERT_COLUMNS = [
  'kind', 'ts', 'sandbox_id', 'sandbox_name', 'secret_id', 'host', 'method', 'path', 'status', 'upstream_status',
  'latency_ms', 'error_code', 'dst_ip', 'dst_port', 'verdict', 'match_rule', 'bytes_sent', 'bytes_recv', 'request_id',
] as const;
/**
 * What the table stores (migration 009): kind as 0/1, refs for the sandbox (id and name) and the
 * secret; from `host` on, the same values as INSERT_COLUMNS.
 */
const STORED_COLUMNS = ['kind', 'ts', 'sandbox_ref', 'secret_ref', ...INSERT_COLUMNS.slice(INSERT_COLUMNS.indexOf('host'))] as const;
const STORED_ROW = `(${STORED_COLUMNS.map(() => '?').join(', ')})`;
/** Where the values stored as they come start, in a flat row and in a stored one. */
const COPIED_FROM = INSERT_COLUMNS.indexOf('host');
const COPIED_TO = STORED_COLUMNS.indexOf('host');

/** Values per row in a FlatEventRows array. */
const ROW_WIDTH = INSERT_COLUMNS.length;
const STORED_WIDTH = STORED_COLUMNS.length;

/** The columns of `event_rows` read back for the API, in INSERT_COLUMNS order after the id. */
const READ_COLUMNS = `id, ${INSERT_COLUMNS.join(', ')}`;

/**
 * A batch of rows as one array of their values, row after row in INSERT_COLUMNS order, `ts` as
 * epoch ms. The writer thread receives batches in this form: the structured clone of primitives
 * is cheaper to read back than one object per row, and the values go to SQLite as they are.
 */
export type FlatEventRows = unknown[];

/** How many rows a FlatEventRows array holds. */
export function flatRowCount(values: FlatEventRows): number {
  return Math.floor(values.length / ROW_WIDTH);
}

/** The rows' values as FlatEventRows. */
export function flattenEventRows(rows: readonly EventRow[]): FlatEventRows {
  // Filled by push: a packed array is posted densely, while `new Array(n)` is holey and would be
  // posted index by index.
  const values: unknown[] = [];
  for (const r of rows) {
    // One row's values in INSERT_COLUMNS' order and layout.
    // prettier-ignore
    values.push(
      r.kind, r.ts, r.sandboxId, r.sandboxName, r.secretId, r.host, r.method, r.path, r.status, r.upstreamStatus,
      r.latencyMs, r.errorCode, r.dstIp, r.dstPort, r.verdict, r.matchRule, r.bytesSent, r.bytesRecv, r.requestId,
    );
  }
  return values;
}

let isoSecond = Number.NaN;
/** `isoSecond` as `YYYY-MM-DDTHH:MM:SS.`, the part of its ISO text before the milliseconds. */
let isoSecondPrefix = '';

/**
 * `new Date(ms).toISOString()`, reusing the text of the second before: a batch's rows mostly share
 * their second, and V8's formatting was ≈ 4 % of an insert.
 */
export function isoTimestamp(epochMs: number): string {
  const ms = Math.floor(epochMs);
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoSecondPrefix = new Date(second * 1000).toISOString().slice(0, -4);
  }
  const milli = ms - second * 1000;
  return `${isoSecondPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** Encodes an event id as the network log's opaque `next_cursor`. */
export function encodeCursor(id: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${id}`).toString('base64url');
}

/** The event id inside a cursor made by encodeCursor, or undefined when it is not one. */
export function decodeCursor(cursor: string): number | undefined {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(cursor)) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(CURSOR_PREFIX)) return undefined;
  const digits = text.slice(CURSOR_PREFIX.length);
  if (!/^[1-9]\d{0,15}$/.test(digits)) return undefined;
  const id = Number(digits);
  return Number.isSafeInteger(id) ? id : undefined;
}

/** An events row as both stores read it back, `ts` in RFC 3339. */
export interface EventDbRow {
  id: number;
  kind: 'request' | 'connection';
  ts: string;
  sandbox_id: string | null;
  sandbox_name: string | null;
  secret_id: string | null;
  host: string | null;
  method: string | null;
  path: string | null;
  status: number | null;
  upstream_status: number | null;
  latency_ms: number | null;
  error_code: string | null;
  dst_ip: string | null;
  dst_port: number | null;
  verdict: 'allowed' | 'blocked' | 'failed' | null;
  match_rule: string | null;
  bytes_sent: number | null;
  bytes_recv: number | null;
  /** Null on rows written before migration 008. */
  request_id: string | null;
}

/** Columns copied onto a NetworkEvent when not null, in wire order. */
// prettier-ignore
const NETWORK_OPTIONAL_COLUMNS = [
  'host', 'dst_ip', 'dst_port', 'verdict', 'match_rule', 'bytes_sent', 'bytes_recv', 'method', 'path',
  'status', 'upstream_status', 'latency_ms', 'secret_id', 'error_code', 'request_id',
] as const satisfies ReadonlyArray<keyof EventDbRow & keyof NetworkEvent>;

/**
 * The `events` table: the audit trail and the network log share one id sequence, so both list
 * newest first by id and a cursor is just an id. All statements are prepared once.
 */
export class EventsRepository {
  /** `#inserts[n]` writes n rows in one statement; prepared on first use, for n ≤ ROWS_PER_INSERT. */
  readonly #inserts: Statement[] = [];
  readonly #insertMany: (values: FlatEventRows) => void;
  readonly #db: Database;
  readonly #touch: Statement;
  readonly #touchMany: (secretIds: Iterable<string>, ts: string) => void;
  readonly #audit: Statement;
  readonly #network: Statement;
  readonly #networkByVerdict: Statement;
  readonly #deleteOld: Statement;
  readonly #refs: EventRefs;

  constructor(db: Database) {
    this.#db = db;
    this.#refs = new EventRefs(db);
    this.#insertMany = db.transaction((values: FlatEventRows) => {
      const rowCount = flatRowCount(values);
      for (let start = 0; start < rowCount; start += ROWS_PER_INSERT) {
        const count = Math.min(ROWS_PER_INSERT, rowCount - start);
        // Spread, not one array argument: the driver then reads each value straight from the call
        // instead of through an element lookup (≈ 10 % of an insert).
        this.#insertStatement(count).run(...this.#stored(values, start, count));
      }
    });
    // Never moves last_used_at backwards when batches land out of order.
    this.#touch = db.prepare('UPDATE secrets SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)');
    this.#touchMany = db.transaction((secretIds: Iterable<string>, ts: string) => {
      for (const id of secretIds) this.#touch.run(ts, id, ts);
    });
    // `kind_code = 0` lets SQLite use the partial index events_secret_requests.
    this.#audit = db.prepare(
      `SELECT ${READ_COLUMNS} FROM event_rows
       WHERE kind_code = 0 AND secret_ref = (SELECT ref FROM audit_secrets WHERE id = ?) AND id < ? AND status BETWEEN ? AND ?
       ORDER BY id DESC LIMIT ?`,
    );
    this.#network = db.prepare(
      `SELECT ${READ_COLUMNS} FROM event_rows
       WHERE sandbox_ref = (SELECT ref FROM audit_sandboxes WHERE id = ?) AND id < ? AND ts >= ?
       ORDER BY id DESC LIMIT ?`,
    );
    this.#networkByVerdict = db.prepare(
      `SELECT ${READ_COLUMNS} FROM event_rows
       WHERE sandbox_ref = (SELECT ref FROM audit_sandboxes WHERE id = ?) AND id < ? AND ts >= ? AND kind_code = 1 AND verdict = ?
       ORDER BY id DESC LIMIT ?`,
    );
    // Ids grow with time, so the oldest rows are the first ids: no index on ts is needed, and each
    // statement reads at most `maxRows` rows whatever the table holds.
    this.#deleteOld = db.prepare('DELETE FROM events WHERE id IN (SELECT id FROM (SELECT id, ts FROM events ORDER BY id LIMIT ?) WHERE ts < ?)');
  }

  /** `count` flat rows from row `start` as the table stores them (refs made on first sight). */
  #stored(values: FlatEventRows, start: number, count: number): unknown[] {
    const stored = new Array<unknown>(count * STORED_WIDTH);
    for (let row = 0; row < count; row++) {
      const from = (start + row) * ROW_WIDTH;
      const to = row * STORED_WIDTH;
      const kind = values[from];
      // Anything else is stored as it came, for the CHECK constraint to refuse.
      stored[to] = kind === 'request' ? 0 : kind === 'connection' ? 1 : kind;
      stored[to + 1] = Math.floor(values[from + 1] as number);
      stored[to + 2] = this.#refs.sandbox(values[from + 2] as string | null, values[from + 3] as string | null);
      stored[to + 3] = this.#refs.secret(values[from + 4] as string | null);
      for (let i = 0; i < ROW_WIDTH - COPIED_FROM; i++) stored[to + COPIED_TO + i] = values[from + COPIED_FROM + i];
    }
    return stored;
  }

  /** Writes rows in one transaction, in order (ids grow with the rows' positions). */
  insertBatch(rows: readonly EventRow[]): void {
    this.insertFlat(flattenEventRows(rows));
  }

  /** insertBatch for rows already flattened (see FlatEventRows). */
  insertFlat(values: FlatEventRows): void {
    if (values.length % ROW_WIDTH !== 0) throw new RangeError(`flat event rows hold ${ROW_WIDTH} values a row, got ${values.length}`);
    if (values.length > 0) this.#insertMany(values);
  }

  #insertStatement(rowCount: number): Statement {
    return (this.#inserts[rowCount] ??= this.#db.prepare(
      `INSERT INTO events (${STORED_COLUMNS.join(', ')}) VALUES ${Array(rowCount).fill(STORED_ROW).join(', ')}`,
    ));
  }

  /** Sets `last_used_at` (RFC 3339) on each secret, in one transaction; never moves it backwards. */
  touchLastUsed(secretIds: Iterable<string>, ts: string): void {
    this.#touchMany(secretIds, ts);
  }

  /** A secret's request rows, newest first; `before` is an event id, exclusive. */
  auditForSecret(secretId: string, options: { limit: number; before?: number | undefined; status?: AuditStatusFilter | undefined }): ProxyAuditEvent[] {
    const [low, high] = options.status ? STATUS_RANGES[options.status] : ANY_STATUS;
    const rows = this.#audit.all(secretId, options.before ?? Number.MAX_SAFE_INTEGER, low, high, options.limit) as StoredEventRow[];
    return rows.map((row) => toAuditEvent(withIsoTs(row)));
  }

  /**
   * A sandbox's connection and request rows, newest first, one page at a time. `cursor` is a
   * previous page's `next_cursor` (decode it with decodeCursor), `since` an RFC 3339 time
   * (inclusive); `verdict` returns connection rows only.
   */
  networkForSandbox(
    sandboxId: string,
    options: { limit: number; cursor?: number | undefined; since?: Date | undefined; verdict?: NetworkVerdict | undefined },
  ): NetworkPage {
    const before = options.cursor ?? Number.MAX_SAFE_INTEGER;
    const since = options.since ? options.since.getTime() : 0;
    const fetch = options.limit + 1;
    const rows = (
      options.verdict ? this.#networkByVerdict.all(sandboxId, before, since, options.verdict, fetch) : this.#network.all(sandboxId, before, since, fetch)
    ) as StoredEventRow[];
    const hasMore = rows.length > options.limit;
    if (hasMore) rows.length = options.limit;
    const last = rows[rows.length - 1];
    return {
      data: rows.map((row) => toNetworkEvent(withIsoTs(row))),
      next_cursor: hasMore && last ? encodeCursor(last.id) : null,
      has_more: hasMore,
    };
  }

  /**
   * Deletes, among the `maxRows` oldest rows (by id), those with `ts` before `isoTs`, and returns
   * how many it deleted; callers loop while a call deletes `maxRows` (yielding between calls) so no
   * single statement holds the database long. A row written after newer ones (a long request is
   * recorded when it ends) waits for the sweep that reaches its id.
   */
  deleteOlderThan(isoTs: string, maxRows = 5000): number {
    return this.#deleteOld.run(maxRows, Date.parse(isoTs)).changes;
  }
}

/** A row of `event_rows`: `ts` in epoch ms. */
type StoredEventRow = Omit<EventDbRow, 'ts'> & { ts: number };

function withIsoTs(row: StoredEventRow): EventDbRow {
  return { ...row, ts: isoTimestamp(row.ts) };
}

export function toAuditEvent(row: EventDbRow): ProxyAuditEvent {
  // Built in the documented key order; absent optionals are left out rather than null.
  const event: Partial<ProxyAuditEvent> = { id: row.id, ts: row.ts, sandbox_id: row.sandbox_id };
  if (row.sandbox_name !== null) event.sandbox_name = row.sandbox_name;
  if (row.secret_id !== null) event.secret_id = row.secret_id;
  event.method = row.method ?? '';
  event.host = row.host ?? '';
  event.path = row.path ?? '';
  event.status = row.status ?? 0;
  if (row.upstream_status !== null) event.upstream_status = row.upstream_status;
  if (row.latency_ms !== null) event.latency_ms = row.latency_ms;
  if (row.error_code !== null) event.error_code = row.error_code;
  if (row.request_id !== null) event.request_id = row.request_id;
  return event as ProxyAuditEvent;
}

export function toNetworkEvent(row: EventDbRow): NetworkEvent {
  const event: Record<string, unknown> = { kind: row.kind, id: row.id, ts: row.ts };
  for (const column of NETWORK_OPTIONAL_COLUMNS) {
    const value = row[column];
    if (value !== null) event[column] = value;
  }
  return event as unknown as NetworkEvent;
}
