import { randomUUID } from 'node:crypto';
import { DomainError } from '../../errors.js';
import { SIDECAR_METADATA_KEY } from '../../fleet/protocol.js';
import { checkBindingRoom, type SandboxRules } from '../../secrets/sandbox-rules.js';
import type { SandboxDefinition } from '../../secrets/validate-sandbox.js';
import {
  addressClaimed,
  BINDING_COLUMNS,
  definitionColumns,
  NOT_DETACHED,
  notExpired,
  SANDBOX_COLUMNS,
  toRecord,
  toSecretBinding,
  type BindingRow,
  type SandboxRecord,
  type SandboxRef,
  type SandboxRow,
  type SecretBinding,
  type SecretBindingRow,
} from '../sandboxes.js';
import { cursorKey, pageOf, type ListPage, type PageRequest } from '../list-page.js';
import { recordChange } from './changes.js';
import { inTransaction, type PgClient, type PgPool } from './db.js';

/** Key space of the advisory locks that make one live sandbox per name ('cprn'), keyed by hashtext(name). */
const SANDBOX_NAME_LOCK = 0x6370726e;

interface SecretRef {
  id: string;
  provider: string | null;
}

/**
 * Sandboxes and bindings on PostgreSQL; the same behaviour and errors as store/sandboxes.ts.
 * Each mutation locks its sandbox row, so two calls on one sandbox apply one after the other as
 * they do on SQLite, and records one change for the sandbox's sidecar.
 */
export class PgSandboxesRepository {
  readonly #pool: PgPool;
  readonly #rules: SandboxRules;

  constructor(pool: PgPool, rules: SandboxRules) {
    this.#pool = pool;
    this.#rules = rules;
  }

  async create(def: SandboxDefinition): Promise<SandboxRecord> {
    const id = randomUUID();
    const now = new Date().toISOString();
    const sourceAddresses = def.source_addresses ?? [];
    const sidecar = typeof def.metadata[SIDECAR_METADATA_KEY] === 'string' ? def.metadata[SIDECAR_METADATA_KEY] : null;
    await inTransaction(this.#pool, async (client) => {
      await claimName(client, def.name, now);
      const resolved: Array<{ envKey: string; secretName: string; secret: SecretRef }> = [];
      for (const [envKey, secretName] of Object.entries(def.secrets))
        resolved.push({ envKey, secretName, secret: await secretRef(client, envKey, secretName) });
      await client.query(
        `INSERT INTO sandboxes (id, name, access_token, env_vars, network, metadata, source_addresses, sidecar, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [id, ...definitionColumns(def, this.#rules.mintAccessToken(), sourceAddresses), sidecar, now, def.expires_at ?? null],
      );
      for (const [i, address] of sourceAddresses.entries()) await claimAddress(client, sidecar ?? '', address, id, i);
      for (const { envKey, secretName, secret } of resolved) await this.#bind(client, id, envKey, secretName, secret, now);
      await recordChange(client, 'sandbox', id, sidecar);
    });
    return (await this.get(id))!;
  }

  /** A sandbox not past its expiry. */
  async get(id: string): Promise<SandboxRecord | undefined> {
    const { rows } = await this.#pool.query<SandboxRow>(`SELECT ${SANDBOX_COLUMNS} FROM sandboxes WHERE id = $1 AND ${notExpired('$2')}`, [
      id,
      new Date().toISOString(),
    ]);
    if (!rows[0]) return undefined;
    const bindings = await this.#pool.query<BindingRow>(`SELECT ${BINDING_COLUMNS} FROM bindings WHERE sandbox_id = $1 AND ${NOT_DETACHED} ORDER BY id`, [id]);
    return toRecord(rows[0], bindings.rows);
  }

  /** Live sandboxes in creation order, one page at a time (cursor `[seq]`). */
  async listPage(page: PageRequest): Promise<ListPage<SandboxRecord>> {
    const [after] = cursorKey(page.after, 'number') ?? [0];
    const { rows } = await this.#pool.query<SandboxRow & { seq: string }>(
      `SELECT seq, ${SANDBOX_COLUMNS} FROM sandboxes WHERE seq > $1 AND ${notExpired('$3')} ORDER BY seq LIMIT $2`,
      [after, page.limit + 1, new Date().toISOString()],
    );
    const bindings = await this.#pool.query<BindingRow>(`SELECT ${BINDING_COLUMNS} FROM bindings WHERE sandbox_id = ANY($1) AND ${NOT_DETACHED} ORDER BY id`, [
      rows.map((r) => r.id),
    ]);
    const bySandbox = new Map<string, BindingRow[]>();
    for (const b of bindings.rows) {
      const group = bySandbox.get(b.sandbox_id);
      if (group) group.push(b);
      else bySandbox.set(b.sandbox_id, [b]);
    }
    // bigserial arrives as text.
    return pageOf(
      rows,
      page.limit,
      (row) => toRecord(row, bySandbox.get(row.id) ?? []),
      (row) => [Number(row.seq)],
    );
  }

  async delete(id: string): Promise<void> {
    await inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<{ sidecar: string | null }>('DELETE FROM sandboxes WHERE id = $1 RETURNING sidecar', [id]);
      if (!rows[0]) throw new DomainError('sandbox_not_found', { id });
      await recordChange(client, 'sandbox', id, rows[0].sidecar, true);
    });
  }

  /**
   * Deletes every sandbox past its expiry, each with a deletion change so its sidecar forgets it
   * (sidecars refuse its token from the expiry on anyway: it travels in the bundle). Returns them.
   */
  async sweepExpired(now = new Date()): Promise<SandboxRef[]> {
    return inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<SandboxRef & { sidecar: string | null }>('DELETE FROM sandboxes WHERE expires_at <= $1 RETURNING id, name, sidecar', [
        now.toISOString(),
      ]);
      for (const row of rows) await recordChange(client, 'sandbox', row.id, row.sidecar, true);
      return rows.map(({ id, name }) => ({ id, name }));
    });
  }

  async attach(sandboxId: string, envKey: string, secretName: string): Promise<{ env_key: string; secret_name: string }> {
    await inTransaction(this.#pool, async (client) => {
      const sandbox = await lockSandbox(client, sandboxId);
      const { rows: held } = await client.query<BindingRow>(`SELECT ${BINDING_COLUMNS} FROM bindings WHERE sandbox_id = $1 AND ${NOT_DETACHED} ORDER BY id`, [
        sandboxId,
      ]);
      const current = held.find((b) => b.env_key === envKey);
      if (current?.revoked === null) throw new DomainError('env_key_bound', { envKey });
      if (Object.hasOwn(JSON.parse(sandbox.env_vars) as object, envKey)) throw new DomainError('env_key_in_env_vars', { envKey });
      checkBindingRoom(this.#rules, held.length - (current ? 1 : 0));
      const secret = await secretRef(client, envKey, secretName);
      if (current) await client.query("UPDATE bindings SET revoked = 'proxy_token_revoked' WHERE id = $1", [current.id]);
      await this.#bind(client, sandboxId, envKey, secretName, secret, new Date().toISOString());
      await recordChange(client, 'sandbox', sandboxId, sandbox.sidecar);
    });
    return { env_key: envKey, secret_name: secretName };
  }

  async detach(sandboxId: string, envKey: string): Promise<void> {
    await inTransaction(this.#pool, async (client) => {
      const sandbox = await lockSandbox(client, sandboxId);
      const { rowCount } = await client.query(
        `UPDATE bindings SET revoked = 'proxy_token_revoked' WHERE sandbox_id = $1 AND env_key = $2 AND ${NOT_DETACHED}`,
        [sandboxId, envKey],
      );
      if (!rowCount) throw new DomainError('env_key_not_bound', { envKey });
      await recordChange(client, 'sandbox', sandboxId, sandbox.sidecar);
    });
  }

  async bindingsOfSecret(secretId: string, page: PageRequest): Promise<ListPage<SecretBinding>> {
    const [after] = cursorKey(page.after, 'number') ?? [0];
    const { rows } = await this.#pool.query<SecretBindingRow & { id: string }>(
      `SELECT b.id, b.sandbox_id, s.name AS sandbox_name, b.env_key, s.status
       FROM bindings b JOIN sandboxes s ON s.id = b.sandbox_id
       WHERE b.secret_id = $1 AND b.revoked IS NULL AND b.id > $2 AND ${notExpired('$4', 's.')} ORDER BY b.id LIMIT $3`,
      [secretId, after, page.limit + 1, new Date().toISOString()],
    );
    return pageOf(rows, page.limit, toSecretBinding, (row) => [Number(row.id)]);
  }

  async #bind(client: PgClient, sandboxId: string, envKey: string, secretName: string, secret: SecretRef, now: string): Promise<void> {
    await client.query('INSERT INTO bindings (sandbox_id, env_key, secret_id, secret_name, stand_in, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
      sandboxId,
      envKey,
      secret.id,
      secretName,
      this.#rules.mintStandIn(secret.provider),
      now,
    ]);
  }
}

/**
 * Takes the name for a new sandbox: under a lock on the name (concurrent creates of one name run
 * one after the other), deletes expired sandboxes holding it, then refuses (`sandbox_name_taken`)
 * when a live one still does.
 */
async function claimName(client: PgClient, name: string, now: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SANDBOX_NAME_LOCK, name]);
  const swept = await client.query<{ id: string; sidecar: string | null }>('DELETE FROM sandboxes WHERE name = $1 AND expires_at <= $2 RETURNING id, sidecar', [
    name,
    now,
  ]);
  for (const row of swept.rows) await recordChange(client, 'sandbox', row.id, row.sidecar, true);
  const { rowCount } = await client.query(`SELECT 1 FROM sandboxes WHERE name = $1 AND ${notExpired('$2')} LIMIT 1`, [name, now]);
  if (rowCount) throw new DomainError('sandbox_name_taken', { name });
}

async function lockSandbox(client: PgClient, id: string): Promise<SandboxRow & { sidecar: string | null }> {
  const { rows } = await client.query<SandboxRow & { sidecar: string | null }>(
    `SELECT ${SANDBOX_COLUMNS}, sidecar FROM sandboxes WHERE id = $1 AND ${notExpired('$2')} FOR UPDATE`,
    [id, new Date().toISOString()],
  );
  if (!rows[0]) throw new DomainError('sandbox_not_found', { id });
  return rows[0];
}

/**
 * Claims a source address for the sandbox among its sidecar's. A concurrent claim of the same
 * address waits on the key until the other transaction ends, so two creates never both win.
 */
async function claimAddress(client: PgClient, sidecar: string, address: string, sandboxId: string, index: number): Promise<void> {
  const claimed = await client.query('INSERT INTO sandbox_source_addresses (sidecar, address, sandbox_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
    sidecar,
    address,
    sandboxId,
  ]);
  if (claimed.rowCount === 1) return;
  const { rows } = await client.query<SandboxRef>(
    'SELECT s.id, s.name FROM sandbox_source_addresses a JOIN sandboxes s ON s.id = a.sandbox_id WHERE a.sidecar = $1 AND a.address = $2',
    [sidecar, address],
  );
  throw addressClaimed(index, address, rows[0]);
}

/** The secret a binding names, share-locked so a concurrent delete waits for this transaction. */
async function secretRef(client: PgClient, envKey: string, name: string): Promise<SecretRef> {
  const { rows } = await client.query<SecretRef>('SELECT id, provider FROM secrets WHERE name = $1 FOR SHARE', [name]);
  if (!rows[0]) throw new DomainError('binding_secret_missing', { envKey, secretName: name });
  return rows[0];
}
