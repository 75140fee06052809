import type { Statement } from 'better-sqlite3';
import type { AuthType } from '../auth-shapes/index.js';
import type {
  BindingRecord,
  BindingRevocation,
  NetworkPolicyRecord,
  RuleSource,
  SandboxRuleRecord,
  SecretRuleRecord,
} from '../rules/source.js';
import type { SecretCipher } from '../secrets/crypto.js';
import type { SecretValue } from '../secrets/secret-value.js';
import type { Database } from './db.js';

/** The rule table's columns of a sandboxes row, as both stores read them. */
export interface RuleSandboxRow {
  id: string;
  name: string;
  access_token: string;
  network: string;
  source_addresses: string;
  expires_at: string | null;
}

/** A bindings row as both stores read it (PostgreSQL's bigserial id arrives as text). */
export interface RuleBindingRow {
  id: number | string;
  sandbox_id: string;
  env_key: string;
  stand_in: string;
  secret_id: string | null;
  /** PostgreSQL's bindings still lose `secret_id` when their secret is deleted, and keep it here. */
  deleted_secret_id?: string | null;
  secret_name: string;
  revoked: BindingRevocation;
}

/** A secret's rule columns as both stores read them (JSON columns as text). */
export interface SecretRuleRow {
  id: string;
  name: string;
  auth_type: string;
  auth_config: string;
  hosts: string;
  provider: string | null;
}

export const RULE_SANDBOX_COLUMNS = 'id, name, access_token, network, source_addresses, expires_at';
export const RULE_BINDING_COLUMNS = 'id, sandbox_id, env_key, stand_in, secret_id, secret_name, revoked';

/**
 * The rule table's read model of the store. Unlike the API's view it includes detached
 * bindings: their stand-ins must keep answering `proxy_token_revoked`.
 */
export class StoreRuleSource implements RuleSource {
  readonly #cipher: SecretCipher;
  readonly #allSandboxes: Statement<[]>;
  readonly #allBindings: Statement<[]>;
  readonly #sandbox: Statement<[string]>;
  readonly #bindingsOf: Statement<[string]>;
  readonly #secretRule: Statement<[string]>;
  readonly #secretValue: Statement<[string]>;

  constructor(db: Database, cipher: SecretCipher) {
    this.#cipher = cipher;
    this.#allSandboxes = db.prepare(`SELECT ${RULE_SANDBOX_COLUMNS} FROM sandboxes ORDER BY created_at, rowid`);
    this.#allBindings = db.prepare(`SELECT ${RULE_BINDING_COLUMNS} FROM binding_states ORDER BY id`);
    this.#sandbox = db.prepare(`SELECT ${RULE_SANDBOX_COLUMNS} FROM sandboxes WHERE id = ?`);
    this.#bindingsOf = db.prepare(`SELECT ${RULE_BINDING_COLUMNS} FROM binding_states WHERE sandbox_id = ? ORDER BY id`);
    this.#secretRule = db.prepare('SELECT id, name, auth_type, auth_config, hosts, provider FROM secrets WHERE id = ?');
    this.#secretValue = db.prepare('SELECT value_enc FROM secrets WHERE id = ?');
  }

  listSandboxes(): SandboxRuleRecord[] {
    const bySandbox = new Map<string, BindingRecord[]>();
    for (const row of this.#allBindings.all() as RuleBindingRow[]) {
      const group = bySandbox.get(row.sandbox_id);
      if (group) group.push(toBinding(row));
      else bySandbox.set(row.sandbox_id, [toBinding(row)]);
    }
    return (this.#allSandboxes.all() as RuleSandboxRow[]).map((row) => toSandbox(row, bySandbox.get(row.id) ?? []));
  }

  getSandbox(sandboxId: string): SandboxRuleRecord | undefined {
    const row = this.#sandbox.get(sandboxId) as RuleSandboxRow | undefined;
    return row && toSandbox(row, (this.#bindingsOf.all(sandboxId) as RuleBindingRow[]).map(toBinding));
  }

  getSecretRule(secretId: string): SecretRuleRecord | undefined {
    const row = this.#secretRule.get(secretId) as SecretRuleRow | undefined;
    return row && toSecretRule(row);
  }

  revealSecret(secretId: string): SecretValue | undefined {
    const row = this.#secretValue.get(secretId) as { value_enc: Buffer } | undefined;
    return row && this.#cipher.open(row.value_enc, secretId);
  }
}

export function toSandbox(row: RuleSandboxRow, bindings: BindingRecord[]): SandboxRuleRecord {
  return {
    id: row.id,
    name: row.name,
    accessToken: row.access_token,
    network: JSON.parse(row.network) as NetworkPolicyRecord,
    sourceAddresses: JSON.parse(row.source_addresses) as string[],
    bindings,
    ...(row.expires_at !== null && { expiresAt: row.expires_at }),
  };
}

export function toBinding(row: RuleBindingRow): BindingRecord {
  return {
    id: Number(row.id),
    sandboxId: row.sandbox_id,
    envKey: row.env_key,
    standIn: row.stand_in,
    secretId: row.secret_id ?? row.deleted_secret_id ?? null,
    secretName: row.secret_name,
    revoked: row.revoked,
  };
}

/** A secret's rule, JSON columns parsed; the fleet bundle sends the same fields (store/postgres/fleet.ts). */
export function toSecretRule(row: SecretRuleRow): SecretRuleRecord & { readonly provider: string | null } {
  return {
    id: row.id,
    name: row.name,
    authType: row.auth_type as AuthType,
    authConfig: JSON.parse(row.auth_config) as Record<string, unknown>,
    hosts: JSON.parse(row.hosts) as string[],
    provider: row.provider,
  };
}
