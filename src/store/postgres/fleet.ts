import { createHash, randomBytes } from 'node:crypto';
import { DomainError } from '../../errors.js';
import type { BindingRecord, SandboxRuleRecord, SecretRuleRecord } from '../../rules/source.js';
import type { SealedEnvelope } from '../../secrets/envelope.js';
import { RULE_BINDING_COLUMNS, RULE_SANDBOX_COLUMNS, toBinding, toSandbox, toSecretRule, type RuleBindingRow, type RuleSandboxRow } from '../rule-source.js';
import { latestChangeSeq, recordChange } from './changes.js';
import { inTransaction, UNIQUE_VIOLATION, type PgPool } from './db.js';

/** A sidecar as the admin API lists it; never its token. */
export interface SidecarInfo {
  name: string;
  created_at: string;
  last_seen_at: string | null;
}

/** A secret of a bundle before it is opened: rules plus its envelope. */
/** A secret's rule as the bundle sends it, with its sealed value. */
export interface BundleSecretRow extends SecretRuleRecord {
  readonly provider: string | null;
  readonly sealed: Pick<SealedEnvelope, 'valueEnc' | 'dataKeyEnc'>;
}

export interface BundleRows {
  readonly seq: number;
  readonly sandboxes: SandboxRuleRecord[];
  readonly secrets: BundleSecretRow[];
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TOKEN_PREFIX = 'cpsc_';
const LAST_SEEN_EVERY_MS = 60_000;

/** Sidecar registry and the bundle read model (what one sidecar may hold). */
export class PgFleetRepository {
  readonly #pool: PgPool;

  constructor(pool: PgPool) {
    this.#pool = pool;
  }

  /** Registers a sidecar; the token is returned once and stored only as its SHA-256. */
  async register(name: unknown): Promise<{ name: string; token: string }> {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new DomainError('sidecar_name_invalid');
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    try {
      await this.#pool.query('INSERT INTO sidecars (name, token_hash, created_at) VALUES ($1, $2, $3)', [name, tokenHash(token), new Date().toISOString()]);
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) throw new DomainError('sidecar_name_taken', { name });
      throw err;
    }
    return { name, token };
  }

  async list(): Promise<SidecarInfo[]> {
    const { rows } = await this.#pool.query<SidecarInfo>('SELECT name, created_at, last_seen_at FROM sidecars ORDER BY name');
    return rows;
  }

  /** Revokes a sidecar's token; its open change streams are closed (a `sidecar` change). */
  async remove(name: string): Promise<void> {
    await inTransaction(this.#pool, async (client) => {
      const { rowCount } = await client.query('DELETE FROM sidecars WHERE name = $1', [name]);
      if (!rowCount) throw new DomainError('sidecar_not_found', { name });
      await recordChange(client, 'sidecar', name, name);
    });
  }

  /**
   * The sidecar a token belongs to. The lookup is by SHA-256, so timing tells nothing of the
   * token; `last_seen_at` is written at most once a minute per sidecar, not on every call.
   */
  async authenticate(token: string): Promise<string | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const { rows } = await this.#pool.query<{ name: string; last_seen_at: string | null }>('SELECT name, last_seen_at FROM sidecars WHERE token_hash = $1', [
      tokenHash(token),
    ]);
    const found = rows[0];
    if (!found) return undefined;
    const now = Date.now();
    if (found.last_seen_at === null || now - Date.parse(found.last_seen_at) > LAST_SEEN_EVERY_MS) {
      await this.#pool.query('UPDATE sidecars SET last_seen_at = $2 WHERE name = $1', [found.name, new Date(now).toISOString()]);
    }
    return found.name;
  }

  /**
   * What `sidecar` may hold, read in one snapshot with the change seq it is current up to: its
   * sandboxes (all of them, or those of `only` that are still its own), every binding ever made
   * in them (detached ones answer proxy_token_revoked), and the secrets of their live bindings.
   */
  async bundle(sidecar: string, only?: readonly string[]): Promise<BundleRows> {
    return inTransaction(this.#pool, async (client) => {
      await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const seq = await latestChangeSeq(client);
      const filter = only ? 'AND id = ANY($2)' : '';
      const params = only ? [sidecar, only] : [sidecar];
      const sandboxes = await client.query<RuleSandboxRow>(`SELECT ${RULE_SANDBOX_COLUMNS} FROM sandboxes WHERE sidecar = $1 ${filter} ORDER BY seq`, params);
      const ids = sandboxes.rows.map((s) => s.id);
      const bindings = await client.query<RuleBindingRow>(
        `SELECT ${RULE_BINDING_COLUMNS}, deleted_secret_id FROM bindings WHERE sandbox_id = ANY($1) ORDER BY id`,
        [ids],
      );
      const secretIds = [...new Set(bindings.rows.flatMap((b) => (b.secret_id && b.revoked === null ? [b.secret_id] : [])))];
      const secrets = await client.query<SecretDbRow>(
        'SELECT id, name, auth_type, auth_config, hosts, provider, value_enc, data_key_enc FROM secrets WHERE id = ANY($1)',
        [secretIds],
      );
      const bySandbox = new Map<string, BindingRecord[]>();
      for (const row of bindings.rows) {
        const list = bySandbox.get(row.sandbox_id) ?? [];
        list.push(toBinding(row));
        bySandbox.set(row.sandbox_id, list);
      }
      return { seq, sandboxes: sandboxes.rows.map((s) => toSandbox(s, bySandbox.get(s.id) ?? [])), secrets: secrets.rows.map(toBundleSecret) };
    });
  }

  /**
   * One secret as `sidecar` may hold it (rules and envelope), with the seq it is current up to;
   * no secret when it is gone or no live binding of the sidecar's sandboxes names it. A rotation
   * or delete costs each sidecar this one read, however many of its sandboxes bind the secret.
   */
  async bundleSecret(sidecar: string, secretId: string): Promise<BundleRows> {
    return inTransaction(this.#pool, async (client) => {
      await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const seq = await latestChangeSeq(client);
      const { rows } = await client.query<SecretDbRow>(
        `SELECT id, name, auth_type, auth_config, hosts, provider, value_enc, data_key_enc FROM secrets
         WHERE id = $1 AND EXISTS (SELECT 1 FROM bindings b JOIN sandboxes s ON s.id = b.sandbox_id
           WHERE b.secret_id = $1 AND b.revoked IS NULL AND s.sidecar = $2)`,
        [secretId, sidecar],
      );
      return { seq, sandboxes: [], secrets: rows.map(toBundleSecret) };
    });
  }
}

function toBundleSecret(s: SecretDbRow): BundleSecretRow {
  return { ...toSecretRule(s), sealed: { valueEnc: s.value_enc, dataKeyEnc: s.data_key_enc } };
}

interface SecretDbRow {
  id: string;
  name: string;
  auth_type: string;
  auth_config: string;
  hosts: string;
  provider: string | null;
  value_enc: Buffer;
  data_key_enc: Buffer;
}

function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
