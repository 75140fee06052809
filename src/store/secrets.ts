import { randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { AuthType } from '../auth-shapes/index.js';
import { DomainError } from '../errors.js';
import type { StoreChange } from '../rules/source.js';
import type { SecretCipher } from '../secrets/crypto.js';
import type { SecretDefinition } from '../secrets/validate-secret.js';
import type { Database } from './db.js';
import { cursorKey, pageOf, type ListPage, type PageRequest } from './list-page.js';

/** A secret as the stores give it out: everything but its value, which only rule-source.ts opens. */
export interface SecretRecord {
  readonly id: string;
  readonly name: string;
  readonly authType: AuthType;
  readonly authConfig: Readonly<Record<string, unknown>>;
  /** The provider shortcut it was created with; null for a custom secret. */
  readonly provider: string | null;
  readonly hosts: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
  /** null until a request used it. */
  readonly lastUsedAt: string | null;
}

/** A secrets row as both stores read it (JSON columns as text). */
export interface SecretRow {
  id: string;
  name: string;
  auth_type: string;
  auth_config: string;
  provider: string | null;
  hosts: string;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
}

export const INFO_COLUMNS = 'id, name, auth_type, auth_config, provider, hosts, created_at, updated_at, last_used_at';

/** Secrets table access. Values go in sealed and never come out here (see rule-source.ts). */
export class SecretsRepository {
  readonly #cipher: SecretCipher;
  readonly #emit: (change: StoreChange) => void;
  readonly #insert: Statement<[string, string, string, string, string | null, string, Buffer, string, string]>;
  readonly #page: Statement<[string, number, number]>;
  readonly #byName: Statement<[string]>;
  readonly #byId: Statement<[string]>;
  readonly #updateValue: Statement<[Buffer, string, string]>;
  readonly #delete: Statement<[string]>;

  constructor(db: Database, cipher: SecretCipher, emit: (change: StoreChange) => void) {
    this.#cipher = cipher;
    this.#emit = emit;
    this.#insert = db.prepare(`INSERT INTO secrets (id, name, auth_type, auth_config, provider, hosts, value_enc, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    // Keyset paging on (created_at, rowid), the order secrets are listed in (index secrets_created).
    this.#page = db.prepare(`SELECT rowid AS seq, ${INFO_COLUMNS} FROM secrets
      WHERE (created_at, rowid) > (?, ?) ORDER BY created_at, rowid LIMIT ?`);
    this.#byName = db.prepare(`SELECT ${INFO_COLUMNS} FROM secrets WHERE name = ?`);
    this.#byId = db.prepare(`SELECT ${INFO_COLUMNS} FROM secrets WHERE id = ?`);
    this.#updateValue = db.prepare('UPDATE secrets SET value_enc = ?, updated_at = ? WHERE id = ?');
    this.#delete = db.prepare('DELETE FROM secrets WHERE id = ?');
    // Only moves forward, so batches written out of order cannot make it go back in time.
  }

  /** Stores a validated secret; `secret_name_taken` when the name is taken. */
  create(def: SecretDefinition): SecretRecord {
    const id = randomUUID();
    const now = new Date().toISOString();
    try {
      this.#insert.run(id, ...definitionColumns(def), this.#cipher.seal(def.value, id), now, now);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new DomainError('secret_name_taken', { name: def.name });
      }
      throw err;
    }
    return this.getById(id)!;
  }

  /** Secrets in creation order, one page at a time (cursor `[created_at, rowid]`). */
  listPage(page: PageRequest): ListPage<SecretRecord> {
    const [createdAt, seq] = cursorKey(page.after, 'string', 'number') ?? ['', 0];
    const rows = this.#page.all(createdAt, seq, page.limit + 1) as Array<SecretRow & { seq: number }>;
    return pageOf(rows, page.limit, toSecretRecord, (row) => [row.created_at, row.seq]);
  }

  getByName(name: string): SecretRecord | undefined {
    const row = this.#byName.get(name) as SecretRow | undefined;
    return row && toSecretRecord(row);
  }

  getById(id: string): SecretRecord | undefined {
    const row = this.#byId.get(id) as SecretRow | undefined;
    return row && toSecretRecord(row);
  }

  /** Replaces the value (bindings keep their stand-ins); `secret_not_found` when there is no such secret. */
  rotate(name: string, value: string): SecretRecord {
    const existing = this.#require(name);
    this.#updateValue.run(this.#cipher.seal(value, existing.id), new Date().toISOString(), existing.id);
    this.#emit({ kind: 'secret', secretId: existing.id });
    return this.getById(existing.id)!;
  }

  /**
   * Deletes the secret; `secret_not_found` when absent. Its bindings keep their rows and answer 503
   * `credential_revoked` from then on because the secret is gone (store/binding-sql.ts), so this
   * writes one row however many sandboxes bind the secret.
   */
  delete(name: string): void {
    const existing = this.#require(name);
    this.#delete.run(existing.id);
    this.#emit({ kind: 'secret', secretId: existing.id });
  }

  #require(name: string): SecretRecord {
    const info = this.getByName(name);
    if (!info) throw new DomainError('secret_not_found', { name });
    return info;
  }
}

/** name, auth_type, auth_config, provider, hosts: the columns both stores insert alike. */
export function definitionColumns(def: SecretDefinition): [string, string, string, string | null, string] {
  return [def.name, def.authType, JSON.stringify(def.authConfig), def.provider, JSON.stringify(def.hosts)];
}

/** A secrets row, JSON columns parsed. */
export function toSecretRecord(row: SecretRow): SecretRecord {
  return {
    id: row.id,
    name: row.name,
    authType: row.auth_type as AuthType,
    authConfig: JSON.parse(row.auth_config) as Record<string, unknown>,
    provider: row.provider,
    hosts: JSON.parse(row.hosts) as string[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastUsedAt: row.last_used_at,
  };
}
