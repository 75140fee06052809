import type { AgentStore } from '../agents/service.js';
import type { SandboxDefinition } from '../secrets/validate-sandbox.js';
import type { SecretDefinition } from '../secrets/validate-secret.js';
import type { ListPage, PageRequest } from '../store/list-page.js';
import type { SandboxRecord, SecretBinding } from '../store/sandboxes.js';
import type { SecretRecord } from '../store/secrets.js';
import type { AuditStatusFilter, NetworkVerdict } from '../store/events.js';
import type { NetworkPage, ProxyAuditEvent } from '../sdk/types.js';

/** A value now (SQLite, synchronous) or later (PostgreSQL); routes await either. */
export type Awaitable<T> = T | Promise<T>;

/**
 * What the admin API's routes need from a store: the SQLite repositories (store/) and the
 * PostgreSQL ones (store/postgres/) both provide it. Refusals are DomainErrors
 * (api/error-envelope.ts maps them).
 */
export interface AdminStore {
  readonly secrets: {
    create(def: SecretDefinition): Awaitable<SecretRecord>;
    /** In creation order; a page starts after `page.after` (store/list-page.ts). */
    listPage(page: PageRequest): Awaitable<ListPage<SecretRecord>>;
    getByName(name: string): Awaitable<SecretRecord | undefined>;
    getById(id: string): Awaitable<SecretRecord | undefined>;
    rotate(name: string, value: string): Awaitable<SecretRecord>;
    delete(name: string): Awaitable<void>;
  };
  readonly sandboxes: {
    create(def: SandboxDefinition): Awaitable<SandboxRecord>;
    get(id: string): Awaitable<SandboxRecord | undefined>;
    listPage(page: PageRequest): Awaitable<ListPage<SandboxRecord>>;
    delete(id: string): Awaitable<void>;
    attach(sandboxId: string, envKey: string, secretName: string): Awaitable<{ env_key: string; secret_name: string }>;
    detach(sandboxId: string, envKey: string): Awaitable<void>;
    /** Its live bindings of existing sandboxes, in the order they were made. */
    bindingsOfSecret(secretId: string, page: PageRequest): Awaitable<ListPage<SecretBinding>>;
  };
  readonly events: EventReader;
  readonly agents: AgentStore;
}

/** `GET /secrets/{name}/audit` filters; `before` is an event id, exclusive. */
export interface AuditQuery {
  limit: number;
  before?: number | undefined;
  status?: AuditStatusFilter | undefined;
}

/** `GET /sandboxes/{id}/network` filters; `cursor` is the id inside a previous `next_cursor`. */
export interface NetworkQuery {
  limit: number;
  cursor?: number | undefined;
  since?: Date | undefined;
  verdict?: NetworkVerdict | undefined;
}

/** What the audit and network routes read: the local events table, or every sidecar's rows in PostgreSQL. */
export interface EventReader {
  auditForSecret(secretId: string, query: AuditQuery): Awaitable<ProxyAuditEvent[]>;
  networkForSandbox(sandboxId: string, query: NetworkQuery): Awaitable<NetworkPage>;
}
