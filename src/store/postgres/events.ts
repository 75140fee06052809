import type { AuditQuery, NetworkQuery } from '../../api/admin-store.js';
import {
  ANY_STATUS,
  encodeCursor,
  INSERT_COLUMNS,
  STATUS_RANGES,
  toAuditEvent,
  toNetworkEvent,
  type EventDbRow,
  type NetworkPage,
  type ProxyAuditEvent,
} from '../events.js';
import { inTransaction, type PgPool } from './db.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Key space of the advisory locks that serialise partition DDL across replicas. */
const PARTITION_LOCK = 0x63707270; // 'cprp'

/** PostgreSQL type of each INSERT_COLUMNS entry, for the unnest() bulk insert. */
const COLUMN_TYPES: Record<(typeof INSERT_COLUMNS)[number], string> = {
  kind: 'text',
  ts: 'float8',
  sandbox_id: 'text',
  sandbox_name: 'text',
  secret_id: 'text',
  host: 'text',
  method: 'text',
  path: 'text',
  status: 'int4',
  upstream_status: 'int4',
  latency_ms: 'float8',
  error_code: 'text',
  dst_ip: 'text',
  dst_port: 'int4',
  verdict: 'text',
  match_rule: 'text',
  bytes_sent: 'int8',
  bytes_recv: 'int8',
  request_id: 'text',
};
const NUMERIC = new Set(['float8', 'int4', 'int8']);
const ROW_WIDTH = 1 + INSERT_COLUMNS.length;
/**
 * Rows from sidecars older than request ids lack the last column, request_id: they are taken
 * and stored without one, so a control plane can be upgraded before its sidecars.
 */
const ROW_WIDTH_BEFORE_REQUEST_ID = ROW_WIDTH - 1;
const TS_AT = 1 + INSERT_COLUMNS.indexOf('ts');

/** An ingested row arrived malformed; the batch is refused whole (400) and the sidecar keeps it. */
export class EventBatchError extends Error {
  readonly code = 'event_batch_invalid';
}

interface PgEventRow extends Omit<EventDbRow, 'id' | 'ts'> {
  id: string;
  ts: Date;
}

/**
 * Audit and network rows from every sidecar, in a table range-partitioned by UTC day.
 * Ingest is idempotent on (source, source_id, ts); ids are assigned here on insert, so the API's
 * cursors order rows across sidecars by when the control plane received them.
 */
export class PgEventsRepository {
  readonly #pool: PgPool;
  readonly #retentionDays: number;
  /** Days (epoch day number) whose partition this replica knows exists. */
  readonly #partitions = new Set<number>();

  constructor(pool: PgPool, options: { retentionDays: number }) {
    this.#pool = pool;
    this.#retentionDays = options.retentionDays;
  }

  /**
   * Inserts a sidecar's batch (each row: its local id, then INSERT_COLUMNS values with ts in epoch
   * ms), skipping rows it already has and rows past retention. Returns the rows newly inserted.
   */
  async ingest(source: string, rows: readonly unknown[][]): Promise<number> {
    const full = rows.map((r) => (Array.isArray(r) && r.length === ROW_WIDTH_BEFORE_REQUEST_ID ? [...r, null] : r));
    full.forEach(checkRow);
    const cutoff = Date.now() - this.#retentionDays * DAY_MS;
    const kept = full.filter((r) => (r[TS_AT] as number) >= cutoff);
    if (kept.length === 0) return 0;
    for (const day of new Set(kept.map((r) => Math.floor((r[TS_AT] as number) / DAY_MS)))) await this.#ensurePartition(day);
    const columns: unknown[][] = Array.from({ length: ROW_WIDTH }, () => []);
    for (const row of kept) row.forEach((value, i) => columns[i]!.push(value));
    const casts = INSERT_COLUMNS.map((c, i) => `$${i + 3}::${COLUMN_TYPES[c]}[]`);
    const select = INSERT_COLUMNS.map((c) => (c === 'ts' ? 'to_timestamp(ts / 1000.0)' : c)).join(', ');
    const result = await this.#pool.query(
      `INSERT INTO events (source, source_id, ${INSERT_COLUMNS.join(', ')})
       SELECT $1, source_id, ${select} FROM unnest($2::int8[], ${casts.join(', ')}) AS u(source_id, ${INSERT_COLUMNS.join(', ')})
       ON CONFLICT DO NOTHING`,
      [source, ...columns],
    );
    await this.#touchLastUsed(kept);
    return result.rowCount ?? 0;
  }

  async auditForSecret(secretId: string, query: AuditQuery): Promise<ProxyAuditEvent[]> {
    const [low, high] = query.status ? STATUS_RANGES[query.status] : ANY_STATUS;
    const { rows } = await this.#pool.query<PgEventRow>(
      `SELECT * FROM events WHERE kind = 'request' AND secret_id = $1 AND id < $2::int8 AND status BETWEEN $3::int8 AND $4::int8
       ORDER BY id DESC LIMIT $5`,
      [secretId, query.before ?? Number.MAX_SAFE_INTEGER, low, high, query.limit],
    );
    return rows.map((r) => toAuditEvent(fromPg(r)));
  }

  async networkForSandbox(sandboxId: string, query: NetworkQuery): Promise<NetworkPage> {
    const params: unknown[] = [sandboxId, query.cursor ?? Number.MAX_SAFE_INTEGER, query.since ?? new Date(0), query.limit + 1];
    const verdict = query.verdict ? `AND kind = 'connection' AND verdict = $5` : '';
    if (query.verdict) params.push(query.verdict);
    const { rows } = await this.#pool.query<PgEventRow>(
      `SELECT * FROM events WHERE sandbox_id = $1 AND id < $2::int8 AND ts >= $3 ${verdict} ORDER BY id DESC LIMIT $4`,
      params,
    );
    const hasMore = rows.length > query.limit;
    if (hasMore) rows.length = query.limit;
    const last = rows[rows.length - 1];
    return { data: rows.map((r) => toNetworkEvent(fromPg(r))), next_cursor: hasMore && last ? encodeCursor(Number(last.id)) : null, has_more: hasMore };
  }

  /**
   * Retention: drops whole day partitions older than retentionDays (no row-by-row DELETE, no
   * bloat) and returns their names. Rows of the cutoff day itself stay until the day is over.
   */
  async dropExpiredPartitions(now = Date.now()): Promise<string[]> {
    const oldestKept = Math.floor((now - this.#retentionDays * DAY_MS) / DAY_MS);
    const { rows } = await this.#pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'`,
    );
    const dropped: string[] = [];
    for (const { name } of rows) {
      const day = partitionDay(name);
      if (day === undefined || day >= oldestKept) continue;
      await this.#pool.query(`DROP TABLE IF EXISTS ${name}`);
      this.#partitions.delete(day);
      dropped.push(name);
    }
    return dropped;
  }

  async #ensurePartition(day: number): Promise<void> {
    if (this.#partitions.has(day)) return;
    const name = partitionName(day);
    const from = new Date(day * DAY_MS).toISOString();
    const to = new Date((day + 1) * DAY_MS).toISOString();
    // Two replicas may see the same new day at once; the lock makes the second find it made.
    await inTransaction(this.#pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [PARTITION_LOCK, day]);
      await client.query(`CREATE TABLE IF NOT EXISTS ${name} PARTITION OF events FOR VALUES FROM ('${from}') TO ('${to}')`);
    });
    this.#partitions.add(day);
  }

  /** last_used_at of each secret whose stand-in was swapped, never moved backwards. */
  async #touchLastUsed(rows: readonly unknown[][]): Promise<void> {
    const latest = new Map<string, number>();
    const secretAt = 1 + INSERT_COLUMNS.indexOf('secret_id');
    const kindAt = 1 + INSERT_COLUMNS.indexOf('kind');
    const errorAt = 1 + INSERT_COLUMNS.indexOf('error_code');
    for (const row of rows) {
      const secretId = row[secretAt];
      if (row[kindAt] !== 'request' || typeof secretId !== 'string' || row[errorAt] !== null) continue;
      latest.set(secretId, Math.max(latest.get(secretId) ?? 0, row[TS_AT] as number));
    }
    if (latest.size === 0) return;
    await this.#pool.query(
      `UPDATE secrets s SET last_used_at = u.ts FROM unnest($1::text[], $2::text[]) AS u(id, ts)
       WHERE s.id = u.id AND (s.last_used_at IS NULL OR s.last_used_at < u.ts)`,
      [[...latest.keys()], [...latest.values()].map((ms) => new Date(ms).toISOString())],
    );
  }
}

/** `events_pYYYYMMDD` for an epoch day number. */
export function partitionName(day: number): string {
  return `events_p${new Date(day * DAY_MS).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function partitionDay(name: string): number | undefined {
  const m = /^events_p(\d{4})(\d{2})(\d{2})$/.exec(name);
  return m ? Math.floor(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS) : undefined;
}

function checkRow(row: unknown): void {
  if (!Array.isArray(row) || row.length !== ROW_WIDTH) throw new EventBatchError(`each row must hold ${ROW_WIDTH} values`);
  if (!Number.isSafeInteger(row[0]) || (row[0] as number) < 1) throw new EventBatchError('a row id must be a positive integer');
  if (row[1] !== 'request' && row[1] !== 'connection') throw new EventBatchError('kind must be request or connection');
  if (typeof row[TS_AT] !== 'number' || !Number.isFinite(row[TS_AT])) throw new EventBatchError('ts must be epoch milliseconds');
  INSERT_COLUMNS.forEach((column, i) => {
    const value = row[i + 1];
    const numeric = NUMERIC.has(COLUMN_TYPES[column]);
    if (value !== null && typeof value !== (numeric ? 'number' : 'string'))
      throw new EventBatchError(`${column} must be a ${numeric ? 'number' : 'string'} or null`);
  });
}

function fromPg(row: PgEventRow): EventDbRow {
  return { ...row, id: Number(row.id), ts: row.ts.toISOString(), bytes_sent: numberOrNull(row.bytes_sent), bytes_recv: numberOrNull(row.bytes_recv) };
}

function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
