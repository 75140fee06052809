/**
 * Wire types of the admin API, snake_case exactly as they travel (docs/contract.md#admin-api
 * and the sections under it). Written by hand, not inferred from the server's routes, so a
 * server refactor cannot silently change what clients compile against.
 */

export type AuthType = 'bearer' | 'basic' | 'api-key' | 'custom' | 'per_host';

/** One auth shape as sent on create. */
export interface AuthRuleInput {
  type: 'bearer' | 'basic' | 'api-key' | 'custom';
  header?: string;
  prefix?: string;
  username?: string;
  headers?: Record<string, string>;
}

export interface PerHostRuleInput extends AuthRuleInput {
  hosts: string[];
}

/** `GET /providers` item. */
export interface ProviderInfo {
  name: string;
  display: string;
  auth_type: AuthType;
  auth_config: Record<string, unknown>;
  hosts: string[];
  /** Stand-in prefix followed by `...`. */
  token_shape: string;
}

/** `POST /secrets` body: either a provider shortcut or explicit auth + hosts. */
export type CreateSecretRequest =
  | { name: string; value: string; provider: string }
  | { name: string; value: string; auth: (AuthRuleInput | { per_host: PerHostRuleInput[] }) & RangeOptIn; hosts: string[] };

/** credproxy's own field: requests carrying the secret keep Range / If-Range (stripped otherwise). */
export interface RangeOptIn {
  allow_range?: boolean;
}

export interface SecretInfo {
  id: string;
  name: string;
  auth_type: AuthType;
  auth_config: Record<string, unknown>;
  provider_shortcut?: string;
  hosts: string[];
  created_at: string;
  updated_at: string;
  last_used_at?: string;
}

/** `GET /secrets/{name}/audit` item (docs/contract.md#event-queries); absent optionals are omitted. */
export interface ProxyAuditEvent {
  id: number;
  ts: string;
  /** null only for requests made without a sandbox identity (proxy.requireAuth false). */
  sandbox_id: string | null;
  sandbox_name?: string;
  secret_id?: string;
  method: string;
  host: string;
  path: string;
  status: number;
  upstream_status?: number;
  latency_ms?: number;
  error_code?: string;
  /** The X-Credproxy-Request-Id the client got (absent on rows written before request ids existed). */
  request_id?: string;
}

export interface AuditQuery {
  limit?: number;
  before?: number;
  status?: '2xx' | '3xx' | '4xx' | '5xx' | 'errors';
}

export interface SecretSandboxBinding {
  sandbox_id: string;
  sandbox_name: string;
  env_key: string;
  status: string;
}

export interface NetworkPolicy {
  allow_out: string[];
  deny_out: string[];
}

export interface CreateSandboxRequest {
  name: string;
  /** ENV_KEY → secret name. */
  secrets: Record<string, string>;
  env_vars?: Record<string, string>;
  network?: Partial<NetworkPolicy>;
  metadata?: Record<string, unknown>;
  /**
   * The IP addresses the sandbox's connections come from: they identify it to the transparent
   * listeners when `transparent.sandbox` is unset. Single addresses, no ranges; an address
   * another sandbox declared is a 409.
   */
  source_addresses?: string[];
  /** Seconds from now after which its tokens stop authenticating (407 sandbox_expired). Not with expires_at. */
  ttl?: number;
  /** RFC 3339 instant (with a zone) after which its tokens stop authenticating. Not with ttl. */
  expires_at?: string;
}

export interface SandboxSecretBinding {
  env_key: string;
  secret_name: string;
  revoked: boolean;
}

export interface SandboxInfo {
  id: string;
  name: string;
  status: string;
  created_at: string;
  access_token: string;
  secrets: SandboxSecretBinding[];
  env_vars?: Record<string, string>;
  network: NetworkPolicy;
  metadata: Record<string, unknown>;
  /** Present when the sandbox declared any: as stored (IPv4 dotted, IPv6 RFC 5952, IPv4-mapped as IPv4). */
  source_addresses?: string[];
  /** Present when it expires (RFC 3339 UTC); an expired sandbox is no longer listed and is deleted soon after. */
  expires_at?: string;
  /** The environment to start the sandbox with (docs/contract.md#sandbox-env). */
  env: Record<string, string>;
}

export interface AttachSecretRequest {
  env_key: string;
  secret_name: string;
}

export interface NetworkEvent {
  kind: 'connection' | 'request';
  id: number;
  ts: string;
  host?: string;
  dst_ip?: string;
  dst_port?: number;
  verdict?: 'allowed' | 'blocked' | 'failed';
  match_rule?: string;
  bytes_sent?: number;
  bytes_recv?: number;
  method?: string;
  path?: string;
  status?: number;
  upstream_status?: number;
  latency_ms?: number;
  secret_id?: string;
  error_code?: string;
  /** The X-Credproxy-Request-Id of the request (a connection row: of the CONNECT that opened it). */
  request_id?: string;
}

export interface NetworkQuery {
  limit?: number;
  before?: string;
  /** RFC 3339, inclusive. */
  since?: string;
  verdict?: 'allowed' | 'blocked' | 'failed';
}

/** One page of a list (the network log, or a list asked for with `limit` or `cursor`). */
export interface Page<T> {
  data: T[];
  /** Pass as `cursor` (network log: `before`) for the next page; null on the last one. */
  next_cursor: string | null;
  has_more: boolean;
}

export type NetworkPage = Page<NetworkEvent>;

/** `GET /secrets`, `/sandboxes`, `/secrets/{name}/sandboxes` one page at a time. */
export interface ListQuery {
  /** 1–1000, default 100. */
  limit?: number;
  /** A previous page's `next_cursor`. */
  cursor?: string;
}

/** Agent-secrets responses (docs/contract.md#agent-api): every key now set, sorted. */
export interface AgentSecretKeys {
  keys: string[];
}

/** `provider`: stored as a provider secret and handed over as a stand-in; `plain`: handed over as is. */
export type AgentSecretKind = 'provider' | 'plain';

export interface AgentInfo {
  id: string;
  name: string;
  command: string | null;
  required_secrets: string[];
  secrets: Array<{ key: string; kind: AgentSecretKind }>;
  /** The sandbox `run` created for this agent, once it has run. */
  sandbox_id: string | null;
  created_at: string;
  updated_at: string;
}

/** `PUT /v1/agents/{agent}` body: the agent file. */
export interface AgentDefinition {
  name: string;
  command?: string | null;
  /** Required secret keys. */
  secrets?: string[];
}

/** `POST /v1/agents/{agent}/run` response. */
export interface AgentRunInfo {
  sandbox_id: string;
  env: Record<string, string>;
}

export interface HealthInfo {
  status: 'ok';
}

/** `{"error": {"code", "message"}}` (Superserve sandbox/secrets API). */
export interface ErrorEnvelope {
  error: { code: string; message: string };
}

/** `{"status", "detail", "details"}` (agent-secrets API, docs/contract.md#agent-api). */
export interface AgentErrorEnvelope {
  status: number;
  detail: string;
  details?: Record<string, unknown>;
}
