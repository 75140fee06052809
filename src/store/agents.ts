import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { SecretCipher } from '../secrets/crypto.js';
import type { SecretValue } from '../secrets/secret-value.js';
import type { AgentSecretKind } from '../sdk/types.js';
import type { Database } from './db.js';

export type { AgentSecretKind };

export interface AgentRecord {
  readonly id: string;
  readonly name: string;
  readonly command: string | null;
  readonly requiredSecrets: readonly string[];
  /** The sandbox `run` made for the agent; null until the first run or after it was deleted. */
  readonly sandboxId: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface AgentSecretRecord {
  readonly key: string;
  readonly kind: AgentSecretKind;
  /** The provider secret behind a provider key; null for plain keys. */
  readonly secretId: string | null;
}

export interface AgentFields {
  readonly name: string;
  readonly command: string | null;
  readonly requiredSecrets: readonly string[];
}

export interface AgentRow {
  id: string;
  name: string;
  command: string | null;
  required_secrets: string;
  sandbox_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface AgentSecretRow {
  key: string;
  kind: AgentSecretKind;
  secret_id: string | null;
}

export const AGENT_COLUMNS = 'id, name, command, required_secrets, sandbox_id, created_at, updated_at';

/**
 * The agents and agent_secrets tables. Plain values are sealed with AAD `<agent id>:<key>` so a
 * blob cannot be moved to another agent or key; provider keys only point at their secret, whose
 * lifecycle (create, rotate, delete) goes through SecretsRepository so the rule table hears of it.
 */
export class AgentsRepository {
  readonly #db: Database;
  readonly #cipher: SecretCipher;
  readonly #insert: Statement<[string, string, string | null, string, string, string]>;
  readonly #byId: Statement<[string]>;
  readonly #byName: Statement<[string]>;
  readonly #list: Statement<[]>;
  readonly #update: Statement<[string, string | null, string, string, string]>;
  readonly #setSandbox: Statement<[string | null, string]>;
  readonly #touch: Statement<[string, string]>;
  readonly #delete: Statement<[string]>;
  readonly #secrets: Statement<[string]>;
  readonly #putProvider: Statement<[string, string, string, string, string]>;
  readonly #putPlain: Statement<[string, string, Buffer, string, string]>;
  readonly #deleteKey: Statement<[string, string]>;
  readonly #plainValues: Statement<[string]>;

  constructor(db: Database, cipher: SecretCipher) {
    this.#db = db;
    this.#cipher = cipher;
    this.#insert = db.prepare(`INSERT INTO agents (id, name, command, required_secrets, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`);
    this.#byId = db.prepare(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = ?`);
    this.#byName = db.prepare(`SELECT ${AGENT_COLUMNS} FROM agents WHERE name = ?`);
    this.#list = db.prepare(`SELECT ${AGENT_COLUMNS} FROM agents ORDER BY name`);
    this.#update = db.prepare('UPDATE agents SET name = ?, command = ?, required_secrets = ?, updated_at = ? WHERE id = ?');
    this.#setSandbox = db.prepare('UPDATE agents SET sandbox_id = ? WHERE id = ?');
    this.#touch = db.prepare('UPDATE agents SET updated_at = ? WHERE id = ?');
    this.#delete = db.prepare('DELETE FROM agents WHERE id = ?');
    this.#secrets = db.prepare('SELECT key, kind, secret_id FROM agent_secrets WHERE agent_id = ? ORDER BY key');
    // An upsert that may switch a key between kinds, so both columns are always written.
    this.#putProvider = db.prepare(`INSERT INTO agent_secrets (agent_id, key, kind, secret_id, value_enc, created_at, updated_at)
      VALUES (?, ?, 'provider', ?, NULL, ?, ?)
      ON CONFLICT (agent_id, key) DO UPDATE SET kind = 'provider', secret_id = excluded.secret_id, value_enc = NULL, updated_at = excluded.updated_at`);
    this.#putPlain = db.prepare(`INSERT INTO agent_secrets (agent_id, key, kind, secret_id, value_enc, created_at, updated_at)
      VALUES (?, ?, 'plain', NULL, ?, ?, ?)
      ON CONFLICT (agent_id, key) DO UPDATE SET kind = 'plain', secret_id = NULL, value_enc = excluded.value_enc, updated_at = excluded.updated_at`);
    this.#deleteKey = db.prepare('DELETE FROM agent_secrets WHERE agent_id = ? AND key = ?');
    this.#plainValues = db.prepare("SELECT key, value_enc FROM agent_secrets WHERE agent_id = ? AND kind = 'plain' ORDER BY key");
  }

  /** By id (`agt_…`) first, then by name. */
  find(idOrName: string): AgentRecord | undefined {
    const row = (this.#byId.get(idOrName) ?? this.#byName.get(idOrName)) as AgentRow | undefined;
    return row && toRecord(row);
  }

  list(): AgentRecord[] {
    return (this.#list.all() as AgentRow[]).map(toRecord);
  }

  create(fields: AgentFields): AgentRecord {
    const id = `agt_${randomBytes(12).toString('hex')}`;
    const now = new Date().toISOString();
    this.#insert.run(id, fields.name, fields.command, JSON.stringify(fields.requiredSecrets), now, now);
    return this.find(id)!;
  }

  update(id: string, fields: AgentFields): AgentRecord {
    this.#update.run(fields.name, fields.command, JSON.stringify(fields.requiredSecrets), new Date().toISOString(), id);
    return this.find(id)!;
  }

  setSandbox(id: string, sandboxId: string | null): void {
    this.#setSandbox.run(sandboxId, id);
  }

  /** Deletes the agent row and (by cascade) its keys; provider secrets are the caller's to delete first. */
  delete(id: string): void {
    this.#delete.run(id);
  }

  secrets(agentId: string): AgentSecretRecord[] {
    return (this.#secrets.all(agentId) as AgentSecretRow[]).map((r) => ({ key: r.key, kind: r.kind, secretId: r.secret_id }));
  }

  /** Every key set, sorted. */
  keys(agentId: string): string[] {
    return this.secrets(agentId).map((s) => s.key);
  }

  putProviderKey(agentId: string, key: string, secretId: string): void {
    const now = new Date().toISOString();
    this.#db.transaction(() => {
      this.#putProvider.run(agentId, key, secretId, now, now);
      this.#touch.run(now, agentId);
    })();
  }

  putPlainKey(agentId: string, key: string, value: string): void {
    const now = new Date().toISOString();
    this.#db.transaction(() => {
      this.#putPlain.run(agentId, key, this.#cipher.seal(value, plainAad(agentId, key)), now, now);
      this.#touch.run(now, agentId);
    })();
  }

  /** Removes a key's row; true when there was one. */
  deleteKey(agentId: string, key: string): boolean {
    const now = new Date().toISOString();
    return this.#db.transaction(() => {
      const removed = this.#deleteKey.run(agentId, key).changes > 0;
      if (removed) this.#touch.run(now, agentId);
      return removed;
    })();
  }

  /** Decrypted plain values, for the environment `run` hands over. */
  plainValues(agentId: string): Map<string, SecretValue> {
    const rows = this.#plainValues.all(agentId) as Array<{ key: string; value_enc: Buffer }>;
    return new Map(rows.map((r) => [r.key, this.#cipher.open(r.value_enc, plainAad(agentId, r.key))]));
  }
}

/** A plain value's AAD: its blob cannot be moved to another agent or key (also on PostgreSQL). */
export function plainAad(agentId: string, key: string): string {
  return `${agentId}:${key}`;
}

export function toRecord(row: AgentRow): AgentRecord {
  return {
    id: row.id,
    name: row.name,
    command: row.command,
    requiredSecrets: JSON.parse(row.required_secrets) as string[],
    sandboxId: row.sandbox_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
