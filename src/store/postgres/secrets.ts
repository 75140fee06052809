import { randomUUID } from 'node:crypto';
import { DomainError } from '../../errors.js';
import type { EnvelopeCipher } from '../../secrets/envelope.js';
import type { SecretDefinition } from '../../secrets/validate-secret.js';
import { cursorKey, pageOf, type ListPage, type PageRequest } from '../list-page.js';
import { definitionColumns, INFO_COLUMNS, toSecretRecord, type SecretRecord, type SecretRow } from '../secrets.js';
import { recordChange } from './changes.js';
import { inTransaction, UNIQUE_VIOLATION, type PgPool } from './db.js';

/** The secrets table on PostgreSQL; the same behaviour and errors as store/secrets.ts. */
export class PgSecretsRepository {
  readonly #pool: PgPool;
  readonly #envelope: EnvelopeCipher;

  constructor(pool: PgPool, envelope: EnvelopeCipher) {
    this.#pool = pool;
    this.#envelope = envelope;
  }

  async create(def: SecretDefinition): Promise<SecretRecord> {
    const id = randomUUID();
    const now = new Date().toISOString();
    const sealed = await this.#envelope.seal(def.value, id);
    try {
      const { rows } = await this.#pool.query<SecretRow>(
        `INSERT INTO secrets (id, name, auth_type, auth_config, provider, hosts, value_enc, data_key_enc, key_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING ${INFO_COLUMNS}`,
        [id, ...definitionColumns(def), sealed.valueEnc, sealed.dataKeyEnc, sealed.keyId, now],
      );
      return toSecretRecord(rows[0]!);
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new DomainError('secret_name_taken', { name: def.name });
      }
      throw err;
    }
  }

  /** Secrets in creation order, one page at a time (cursor `[created_at, id]`). */
  async listPage(page: PageRequest): Promise<ListPage<SecretRecord>> {
    const [createdAt, id] = cursorKey(page.after, 'string', 'string') ?? ['', ''];
    const { rows } = await this.#pool.query<SecretRow>(
      `SELECT ${INFO_COLUMNS} FROM secrets WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3`,
      [createdAt, id, page.limit + 1],
    );
    return pageOf(rows, page.limit, toSecretRecord, (row) => [row.created_at, row.id]);
  }

  async getByName(name: string): Promise<SecretRecord | undefined> {
    const { rows } = await this.#pool.query<SecretRow>(`SELECT ${INFO_COLUMNS} FROM secrets WHERE name = $1`, [name]);
    return rows[0] && toSecretRecord(rows[0]);
  }

  async getById(id: string): Promise<SecretRecord | undefined> {
    const { rows } = await this.#pool.query<SecretRow>(`SELECT ${INFO_COLUMNS} FROM secrets WHERE id = $1`, [id]);
    return rows[0] && toSecretRecord(rows[0]);
  }

  /** Replaces the value under a fresh data key; every sidecar holding it hears of it. */
  async rotate(name: string, value: string): Promise<SecretRecord> {
    return inTransaction(this.#pool, async (client) => {
      const { rows: found } = await client.query<{ id: string }>('SELECT id FROM secrets WHERE name = $1 FOR UPDATE', [name]);
      if (!found[0]) throw new DomainError('secret_not_found', { name });
      const { id } = found[0];
      const sealed = await this.#envelope.seal(value, id);
      const { rows } = await client.query<SecretRow>(
        `UPDATE secrets SET value_enc = $1, data_key_enc = $2, key_id = $3, updated_at = $4 WHERE id = $5 RETURNING ${INFO_COLUMNS}`,
        [sealed.valueEnc, sealed.dataKeyEnc, sealed.keyId, new Date().toISOString(), id],
      );
      await recordChange(client, 'secret', id, null);
      return toSecretRecord(rows[0]!);
    });
  }

  /** Deletes the secret and marks its bindings `credential_revoked` in the same transaction. */
  async delete(name: string): Promise<void> {
    await inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<{ id: string }>('SELECT id FROM secrets WHERE name = $1 FOR UPDATE', [name]);
      if (!rows[0]) throw new DomainError('secret_not_found', { name });
      const { id } = rows[0];
      await client.query("UPDATE bindings SET revoked = COALESCE(revoked, 'credential_revoked'), deleted_secret_id = secret_id WHERE secret_id = $1", [id]);
      await client.query('DELETE FROM secrets WHERE id = $1', [id]);
      await recordChange(client, 'secret', id, null, true);
    });
  }
}
