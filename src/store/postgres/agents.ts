import { randomBytes } from 'node:crypto';
import type { AgentStore } from '../../agents/service.js';
import type { EnvelopeCipher, SealedEnvelope } from '../../secrets/envelope.js';
import type { SecretValue } from '../../secrets/secret-value.js';
import {
  AGENT_COLUMNS,
  plainAad,
  toRecord,
  type AgentFields,
  type AgentRecord,
  type AgentRow,
  type AgentSecretRecord,
  type AgentSecretRow,
} from '../agents.js';
import { inTransaction, type PgPool } from './db.js';

/**
 * The agents and agent_secrets tables on PostgreSQL; the same behaviour as store/agents.ts. Plain
 * values are envelope-sealed like secrets (a data key each, wrapped by the master key). Agents
 * reach sidecars only through their provider secrets and their sandbox, whose repositories
 * record the changes, so nothing here writes to the change log.
 */
export class PgAgentsRepository implements AgentStore {
  readonly #pool: PgPool;
  readonly #envelope: EnvelopeCipher;

  constructor(pool: PgPool, envelope: EnvelopeCipher) {
    this.#pool = pool;
    this.#envelope = envelope;
  }

  async find(idOrName: string): Promise<AgentRecord | undefined> {
    // By id (`agt_…`) first, then by name, as on SQLite: an id match wins over another agent's name.
    const { rows } = await this.#pool.query<AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1`, [
      idOrName,
    ]);
    return rows[0] && toRecord(rows[0]);
  }

  async list(): Promise<AgentRecord[]> {
    const { rows } = await this.#pool.query<AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents ORDER BY name`);
    return rows.map(toRecord);
  }

  /** A concurrent create of the same name (another replica's first PATCH) yields that agent. */
  async create(fields: AgentFields): Promise<AgentRecord> {
    const now = new Date().toISOString();
    await this.#pool.query(
      `INSERT INTO agents (id, name, command, required_secrets, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
       ON CONFLICT (name) DO NOTHING`,
      [`agt_${randomBytes(12).toString('hex')}`, fields.name, fields.command, JSON.stringify(fields.requiredSecrets), now],
    );
    const { rows } = await this.#pool.query<AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE name = $1`, [fields.name]);
    return toRecord(rows[0]!);
  }

  async update(id: string, fields: AgentFields): Promise<AgentRecord> {
    const { rows } = await this.#pool.query<AgentRow>(
      `UPDATE agents SET name = $1, command = $2, required_secrets = $3, updated_at = $4 WHERE id = $5 RETURNING ${AGENT_COLUMNS}`,
      [fields.name, fields.command, JSON.stringify(fields.requiredSecrets), new Date().toISOString(), id],
    );
    return toRecord(rows[0]!);
  }

  async setSandbox(id: string, sandboxId: string | null): Promise<void> {
    await this.#pool.query('UPDATE agents SET sandbox_id = $1 WHERE id = $2', [sandboxId, id]);
  }

  /** Deletes the agent row and (by cascade) its keys; provider secrets are the caller's to delete first. */
  async delete(id: string): Promise<void> {
    await this.#pool.query('DELETE FROM agents WHERE id = $1', [id]);
  }

  async secrets(agentId: string): Promise<AgentSecretRecord[]> {
    const { rows } = await this.#pool.query<AgentSecretRow>('SELECT key, kind, secret_id FROM agent_secrets WHERE agent_id = $1 ORDER BY key', [agentId]);
    return rows.map((r) => ({ key: r.key, kind: r.kind, secretId: r.secret_id }));
  }

  async keys(agentId: string): Promise<string[]> {
    return (await this.secrets(agentId)).map((s) => s.key);
  }

  async putProviderKey(agentId: string, key: string, secretId: string): Promise<void> {
    await this.#put(agentId, key, 'provider', secretId, null);
  }

  async putPlainKey(agentId: string, key: string, value: string): Promise<void> {
    await this.#put(agentId, key, 'plain', null, await this.#envelope.seal(value, plainAad(agentId, key)));
  }

  async deleteKey(agentId: string, key: string): Promise<boolean> {
    return inTransaction(this.#pool, async (client) => {
      const { rowCount } = await client.query('DELETE FROM agent_secrets WHERE agent_id = $1 AND key = $2', [agentId, key]);
      if (rowCount) await client.query('UPDATE agents SET updated_at = $1 WHERE id = $2', [new Date().toISOString(), agentId]);
      return Boolean(rowCount);
    });
  }

  async plainValues(agentId: string): Promise<Map<string, SecretValue>> {
    const { rows } = await this.#pool.query<{ key: string; value_enc: Buffer; data_key_enc: Buffer }>(
      "SELECT key, value_enc, data_key_enc FROM agent_secrets WHERE agent_id = $1 AND kind = 'plain' ORDER BY key",
      [agentId],
    );
    const opened = await Promise.all(
      rows.map(async (r) => [r.key, await this.#envelope.open({ valueEnc: r.value_enc, dataKeyEnc: r.data_key_enc }, plainAad(agentId, r.key))] as const),
    );
    return new Map(opened);
  }

  /** An upsert that may switch a key between kinds, so every value column is always written. */
  async #put(agentId: string, key: string, kind: AgentSecretRecord['kind'], secretId: string | null, sealed: SealedEnvelope | null): Promise<void> {
    const now = new Date().toISOString();
    await inTransaction(this.#pool, async (client) => {
      await client.query(
        `INSERT INTO agent_secrets (agent_id, key, kind, secret_id, value_enc, data_key_enc, key_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (agent_id, key) DO UPDATE SET kind = excluded.kind, secret_id = excluded.secret_id, value_enc = excluded.value_enc,
           data_key_enc = excluded.data_key_enc, key_id = excluded.key_id, updated_at = excluded.updated_at`,
        [agentId, key, kind, secretId, sealed?.valueEnc ?? null, sealed?.dataKeyEnc ?? null, sealed?.keyId ?? null, now],
      );
      await client.query('UPDATE agents SET updated_at = $1 WHERE id = $2', [now, agentId]);
    });
  }
}
