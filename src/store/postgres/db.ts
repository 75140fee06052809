import pg from 'pg';
import { PG_MIGRATIONS } from './migrations.js';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

/** Key of the advisory lock that serialises migrations across replicas starting at once. */
const MIGRATION_LOCK = 0x63707278; // 'cprx'

export interface OpenPostgresOptions {
  readonly url: string;
  readonly poolSize: number;
}

/**
 * A pool on the control plane's database with the schema brought up to date. Replicas may start
 * together: the first takes the advisory lock and migrates, the others wait and find nothing to do.
 */
export async function openPostgres(options: OpenPostgresOptions): Promise<PgPool> {
  const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize });
  // An idle client's error (e.g. the server restarting) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return pool;
}

async function migrate(pool: PgPool): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
    const current = rows[0]?.v ?? 0;
    if (current > PG_MIGRATIONS.length) {
      throw new Error(`database schema version ${current} is newer than this build knows (${PG_MIGRATIONS.length}); upgrade credproxy`);
    }
    for (let version = current + 1; version <= PG_MIGRATIONS.length; version++) {
      await client.query(PG_MIGRATIONS[version - 1]!);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
    }
  });
}

/** Runs `work` in one transaction on one pooled connection: COMMIT when it returns, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: PgPool, work: (client: PgClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Postgres' SQLSTATE for a unique violation. */
export const UNIQUE_VIOLATION = '23505';
