import { randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { DomainError } from '../errors.js';
import type { BindingRevocation, NetworkPolicyRecord, StoreChange } from '../rules/source.js';
import { checkBindingRoom, type SandboxRules } from '../secrets/sandbox-rules.js';
import type { SandboxDefinition } from '../secrets/validate-sandbox.js';
import type { Database } from './db.js';
import { cursorKey, pageOf, type ListPage, type PageRequest } from './list-page.js';

/** A binding as the sandbox shows it; detached bindings are not shown. */
export interface SandboxBinding {
  readonly envKey: string;
  readonly secretName: string;
  readonly standIn: string;
  /** `credential_revoked` once the secret was deleted; never `proxy_token_revoked` here. */
  readonly revoked: BindingRevocation;
}

export interface SandboxRecord {
  readonly id: string;
  readonly name: string;
  readonly status: 'active';
  readonly createdAt: string;
  readonly accessToken: string;
  readonly envVars: Readonly<Record<string, string>>;
  readonly network: NetworkPolicyRecord;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The addresses its transparent-mode connections come from; empty when it declared none. */
  readonly sourceAddresses: readonly string[];
  /** Bindings not detached, in the order they were made. */
  readonly bindings: readonly SandboxBinding[];
  /** When its tokens stop authenticating (RFC 3339 UTC); null = never. */
  readonly expiresAt: string | null;
}

/** A live binding of a secret, with the sandbox holding it (`GET /secrets/{name}/sandboxes`). */
export interface SecretBinding {
  readonly sandboxId: string;
  readonly sandboxName: string;
  readonly envKey: string;
  readonly status: 'active';
}

/** A row of the secret-bindings queries of both stores. */
export interface SecretBindingRow {
  id: number | string;
  sandbox_id: string;
  sandbox_name: string;
  env_key: string;
  status: 'active';
}

/** A sandboxes row as both stores read it (JSON columns as text). */
export interface SandboxRow {
  id: string;
  name: string;
  access_token: string;
  env_vars: string;
  network: string;
  metadata: string;
  source_addresses: string;
  created_at: string;
  expires_at: string | null;
}

export interface BindingRow {
  id: number;
  sandbox_id: string;
  env_key: string;
  secret_name: string;
  stand_in: string;
  revoked: BindingRevocation;
}

export const SANDBOX_COLUMNS = 'id, name, access_token, env_vars, network, metadata, source_addresses, created_at, expires_at';
export const BINDING_COLUMNS = 'id, sandbox_id, env_key, secret_name, stand_in, revoked';
/** A binding that still occupies its env key: live, or revoked because its secret was deleted. */
export const NOT_DETACHED = "(revoked IS NULL OR revoked <> 'proxy_token_revoked')";

/**
 * A sandbox not past its expiry at the instant bound to `param` (an ISO string: stored expiries
 * are toISOString() text, so text order is time order). The API shows only these; an expired one
 * is as good as deleted until the sweeper deletes it.
 */
export function notExpired(param: string, table = ''): string {
  const column = `${table}expires_at`;
  return `(${column} IS NULL OR ${column} > ${param})`;
}

/**
 * Sandboxes and their bindings, read through the view `binding_states` (migration 006). Every
 * mutation is one transaction, then one StoreChange. A transaction that reads before it writes
 * begins IMMEDIATE: it takes the write lock first, so a concurrent writer (the audit thread) makes
 * it wait (busy_timeout) instead of failing with SQLITE_BUSY when its read snapshot turns out
 * stale at the first write. Tokens and stand-ins are minted, and the binding cap set, by `rules`.
 */
export class SandboxesRepository {
  readonly #db: Database;
  readonly #emit: (change: StoreChange) => void;
  readonly #rules: SandboxRules;
  readonly #insertSandbox: Statement<[string, string, string, string, string, string, string, string, string | null]>;
  readonly #liveNamed: Statement<[string, string]>;
  readonly #sweepNamed: Statement<[string, string]>;
  readonly #sweepExpired: Statement<[string]>;
  readonly #claimAddress: Statement<[string, string]>;
  readonly #addressHolder: Statement<[string]>;
  readonly #insertBinding: Statement<[string, string, string, string, string, string]>;
  readonly #sandboxById: Statement<[string, string]>;
  readonly #sandboxPage: Statement<[string, number, string, number]>;
  readonly #bindingsOf: Statement<[string]>;
  readonly #bindingAt: Statement<[string, string]>;
  readonly #detach: Statement<[number]>;
  readonly #deleteSandbox: Statement<[string]>;
  readonly #secretByName: Statement<[string]>;
  readonly #bindingsOfSecret: Statement<[string, number, string, number]>;

  constructor(db: Database, emit: (change: StoreChange) => void, rules: SandboxRules) {
    this.#db = db;
    this.#emit = emit;
    this.#rules = rules;
    this.#insertSandbox = db.prepare(`INSERT INTO sandboxes (id, name, access_token, env_vars, network, metadata, source_addresses, created_at, expires_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#liveNamed = db.prepare(`SELECT id, name FROM sandboxes WHERE name = ? AND ${notExpired('?')} LIMIT 1`);
    this.#sweepNamed = db.prepare('DELETE FROM sandboxes WHERE name = ? AND expires_at <= ? RETURNING id');
    this.#sweepExpired = db.prepare('DELETE FROM sandboxes WHERE expires_at <= ? RETURNING id, name');
    this.#claimAddress = db.prepare('INSERT INTO sandbox_source_addresses (address, sandbox_id) VALUES (?, ?)');
    this.#addressHolder = db.prepare(`SELECT s.id, s.name FROM sandbox_source_addresses a JOIN sandboxes s ON s.id = a.sandbox_id
      WHERE a.address = ?`);
    this.#insertBinding = db.prepare(`INSERT INTO bindings (sandbox_id, env_key, secret_id, secret_name, stand_in, created_at)
      VALUES (?, ?, ?, ?, ?, ?)`);
    this.#sandboxById = db.prepare(`SELECT ${SANDBOX_COLUMNS} FROM sandboxes WHERE id = ? AND ${notExpired('?')}`);
    // Keyset paging on (created_at, rowid), the order sandboxes are listed in (index sandboxes_created).
    this.#sandboxPage = db.prepare(`SELECT rowid AS seq, ${SANDBOX_COLUMNS} FROM sandboxes
      WHERE (created_at, rowid) > (?, ?) AND ${notExpired('?')} ORDER BY created_at, rowid LIMIT ?`);
    this.#bindingsOf = db.prepare(`SELECT ${BINDING_COLUMNS} FROM binding_states WHERE sandbox_id = ? AND ${NOT_DETACHED} ORDER BY id`);
    this.#bindingAt = db.prepare(`SELECT ${BINDING_COLUMNS} FROM binding_states WHERE sandbox_id = ? AND env_key = ? AND ${NOT_DETACHED}`);
    this.#detach = db.prepare("UPDATE bindings SET revoked = 'proxy_token_revoked' WHERE id = ?");
    this.#deleteSandbox = db.prepare('DELETE FROM sandboxes WHERE id = ?');
    this.#secretByName = db.prepare('SELECT id, provider FROM secrets WHERE name = ?');
    this.#bindingsOfSecret = db.prepare(`SELECT b.id, b.sandbox_id, s.name AS sandbox_name, b.env_key, s.status
      FROM binding_states b JOIN sandboxes s ON s.id = b.sandbox_id
      WHERE b.secret_id = ? AND b.revoked IS NULL AND b.id > ? AND ${notExpired('?', 's.')} ORDER BY b.id LIMIT ?`);
  }

  /**
   * Creates the sandbox with its access token and one fresh stand-in per binding. A binding
   * naming a missing secret fails the whole create (`binding_secret_missing`), as does a name a
   * live sandbox has (`sandbox_name_taken`) or a source address another sandbox declared
   * (`address_claimed`). Expired
   * sandboxes of the same name are swept first.
   */
  create(def: SandboxDefinition): SandboxRecord {
    const id = randomUUID();
    const now = new Date().toISOString();
    const sourceAddresses = def.source_addresses ?? [];
    let swept: Array<{ id: string }> = [];
    this.#db
      .transaction(() => {
        swept = this.#sweepNamed.all(def.name, now) as Array<{ id: string }>;
        if (this.#liveNamed.get(def.name, now)) throw new DomainError('sandbox_name_taken', { name: def.name });
        const resolved = Object.entries(def.secrets).map(([envKey, secretName]) => ({ envKey, secretName, secret: this.#secret(envKey, secretName) }));
        sourceAddresses.forEach((address, i) => {
          const holder = this.#addressHolder.get(address) as SandboxRef | undefined;
          if (holder) throw addressClaimed(i, address, holder);
        });
        this.#insertSandbox.run(id, ...definitionColumns(def, this.#rules.mintAccessToken(), sourceAddresses), now, def.expires_at ?? null);
        for (const address of sourceAddresses) this.#claimAddress.run(address, id);
        for (const { envKey, secretName, secret } of resolved) this.#bind(id, envKey, secretName, secret, now);
      })
      .immediate();
    for (const gone of swept) this.#emit({ kind: 'sandbox', sandboxId: gone.id });
    this.#emit({ kind: 'sandbox', sandboxId: id });
    return this.get(id)!;
  }

  /** A sandbox not past its expiry. */
  get(id: string): SandboxRecord | undefined {
    const row = this.#sandboxById.get(id, new Date().toISOString()) as SandboxRow | undefined;
    return row && toRecord(row, this.#bindingsOf.all(id) as BindingRow[]);
  }

  /** Live sandboxes in creation order, one page at a time (cursor `[created_at, rowid]`). */
  listPage(page: PageRequest): ListPage<SandboxRecord> {
    const [createdAt, seq] = cursorKey(page.after, 'string', 'number') ?? ['', 0];
    const rows = this.#sandboxPage.all(createdAt, seq, new Date().toISOString(), page.limit + 1) as Array<SandboxRow & { seq: number }>;
    return pageOf(
      rows,
      page.limit,
      (row) => toRecord(row, this.#bindingsOf.all(row.id) as BindingRow[]),
      (row) => [row.created_at, row.seq],
    );
  }

  /** Deletes every sandbox past its expiry (their rule-table entries go with them); returns them. */
  sweepExpired(now = new Date()): SandboxRef[] {
    const swept = this.#sweepExpired.all(now.toISOString()) as SandboxRef[];
    for (const { id } of swept) this.#emit({ kind: 'sandbox', sandboxId: id });
    return swept;
  }

  /** Deletes the sandbox; its bindings go with it and its access token stops at once. `sandbox_not_found` when absent. */
  delete(id: string): void {
    if (this.#deleteSandbox.run(id).changes === 0) throw new DomainError('sandbox_not_found', { id });
    this.#emit({ kind: 'sandbox', sandboxId: id });
  }

  /**
   * Binds a secret under a new env key with a fresh stand-in. Refused when the key is live-bound
   * or set in env_vars, or the sandbox holds `rules.maxBindings`; a key held by a binding whose
   * secret was deleted is taken over (the old stand-in then answers `proxy_token_revoked`).
   */
  attach(sandboxId: string, envKey: string, secretName: string): { env_key: string; secret_name: string } {
    this.#db
      .transaction(() => {
        const sandbox = this.#requireSandbox(sandboxId);
        const current = this.#bindingAt.get(sandboxId, envKey) as BindingRow | undefined;
        if (current?.revoked === null) throw new DomainError('env_key_bound', { envKey });
        if (Object.hasOwn(JSON.parse(sandbox.env_vars) as object, envKey)) throw new DomainError('env_key_in_env_vars', { envKey });
        const occupied = (this.#bindingsOf.all(sandboxId) as BindingRow[]).length - (current ? 1 : 0);
        checkBindingRoom(this.#rules, occupied);
        const secret = this.#secret(envKey, secretName);
        if (current) this.#detach.run(current.id);
        this.#bind(sandboxId, envKey, secretName, secret, new Date().toISOString());
      })
      .immediate();
    this.#emit({ kind: 'sandbox', sandboxId });
    return { env_key: envKey, secret_name: secretName };
  }

  /** Detaches the binding at `envKey`: its stand-in answers `proxy_token_revoked` from now on. `env_key_not_bound` when nothing is bound. */
  detach(sandboxId: string, envKey: string): void {
    this.#db
      .transaction(() => {
        this.#requireSandbox(sandboxId);
        const current = this.#bindingAt.get(sandboxId, envKey) as BindingRow | undefined;
        if (!current) throw new DomainError('env_key_not_bound', { envKey });
        this.#detach.run(current.id);
      })
      .immediate();
    this.#emit({ kind: 'sandbox', sandboxId });
  }

  /** The live bindings of a secret (by id), with their sandbox. */
  bindingsOfSecret(secretId: string, page: PageRequest): ListPage<SecretBinding> {
    const [after] = cursorKey(page.after, 'number') ?? [0];
    const rows = this.#bindingsOfSecret.all(secretId, after, new Date().toISOString(), page.limit + 1) as Array<SecretBindingRow & { id: number }>;
    return pageOf(rows, page.limit, toSecretBinding, (row) => [row.id]);
  }

  #requireSandbox(id: string): SandboxRow {
    const row = this.#sandboxById.get(id, new Date().toISOString()) as SandboxRow | undefined;
    if (!row) throw new DomainError('sandbox_not_found', { id });
    return row;
  }

  #secret(envKey: string, name: string): { id: string; provider: string | null } {
    const secret = this.#secretByName.get(name) as { id: string; provider: string | null } | undefined;
    if (!secret) throw new DomainError('binding_secret_missing', { envKey, secretName: name });
    return secret;
  }

  #bind(sandboxId: string, envKey: string, secretName: string, secret: { id: string; provider: string | null }, now: string): void {
    this.#insertBinding.run(sandboxId, envKey, secret.id, secretName, this.#rules.mintStandIn(secret.provider), now);
  }
}

/** name, access_token, env_vars, network, metadata, source_addresses: the columns both stores insert alike. */
export function definitionColumns(
  def: SandboxDefinition,
  accessToken: string,
  sourceAddresses: readonly string[],
): [string, string, string, string, string, string] {
  return [def.name, accessToken, JSON.stringify(def.env_vars), JSON.stringify(def.network), JSON.stringify(def.metadata), JSON.stringify(sourceAddresses)];
}

/** A sandbox named in a message: its id and name. */
export interface SandboxRef {
  readonly id: string;
  readonly name: string;
}

/** `holder` is undefined when it was deleted between the claim and the look-up. */
export function addressClaimed(index: number, address: string, holder: SandboxRef | undefined): DomainError {
  return new DomainError('address_claimed', { index, address, ...(holder && { holder: { id: holder.id, name: holder.name } }) });
}

/** The API's view of a sandbox and its bindings not detached. */
export function toRecord(row: SandboxRow, bindings: readonly BindingRow[]): SandboxRecord {
  return {
    id: row.id,
    name: row.name,
    status: 'active',
    createdAt: row.created_at,
    accessToken: row.access_token,
    envVars: JSON.parse(row.env_vars) as Record<string, string>,
    network: JSON.parse(row.network) as NetworkPolicyRecord,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    sourceAddresses: JSON.parse(row.source_addresses) as string[],
    bindings: bindings.map((b) => ({ envKey: b.env_key, secretName: b.secret_name, standIn: b.stand_in, revoked: b.revoked })),
    expiresAt: row.expires_at,
  };
}

export function toSecretBinding(row: SecretBindingRow): SecretBinding {
  return { sandboxId: row.sandbox_id, sandboxName: row.sandbox_name, envKey: row.env_key, status: row.status };
}
