import { RequestError } from './request-error.js';
import type {
  AgentDefinition,
  AgentInfo,
  AgentRunInfo,
  AgentSecretKeys,
  AttachSecretRequest,
  AuditQuery,
  CreateSandboxRequest,
  CreateSecretRequest,
  HealthInfo,
  ListQuery,
  NetworkPage,
  NetworkQuery,
  Page,
  ProviderInfo,
  ProxyAuditEvent,
  SandboxInfo,
  SecretInfo,
  SecretSandboxBinding,
} from './types.js';

export interface CredproxyClientOptions {
  /** Admin API base URL, e.g. `http://127.0.0.1:8081`. */
  url: string;
  /** Sent as `X-API-Key`; never part of an error message. */
  apiKey: string;
  /** Defaults to the global fetch (undici). */
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | undefined>;

interface CallOptions {
  body?: unknown;
  query?: Query;
  /** Read the body as text instead of JSON. */
  text?: boolean;
}

/** Typed methods over the admin API. Every failure is a RequestError. */
export class CredproxyClient {
  readonly #base: string;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;

  constructor(options: CredproxyClientOptions) {
    this.#base = options.url.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  health(): Promise<HealthInfo> {
    return this.#call('GET', '/healthz');
  }

  /** The CA certificate (PEM) sandboxes must trust. */
  caPem(): Promise<string> {
    return this.#call('GET', '/ca.pem', { text: true });
  }

  /** Prometheus text. */
  metrics(): Promise<string> {
    return this.#call('GET', '/metrics', { text: true });
  }

  listProviders(): Promise<ProviderInfo[]> {
    return this.#call('GET', '/providers');
  }

  createSecret(request: CreateSecretRequest): Promise<SecretInfo> {
    return this.#call('POST', '/secrets', { body: request });
  }

  /** Every secret, as one array (Superserve's shape). */
  listSecrets(): Promise<SecretInfo[]> {
    return this.#call('GET', '/secrets');
  }

  /** One page of secrets, in creation order. */
  listSecretsPage(query: ListQuery = {}): Promise<Page<SecretInfo>> {
    return this.#call('GET', '/secrets', { query: paged(query) });
  }

  getSecret(name: string): Promise<SecretInfo> {
    return this.#call('GET', `/secrets/${seg(name)}`);
  }

  /** Replaces the value; bindings keep their stand-ins. */
  rotateSecret(name: string, value: string): Promise<SecretInfo> {
    return this.#call('PATCH', `/secrets/${seg(name)}`, { body: { value } });
  }

  deleteSecret(name: string): Promise<void> {
    return this.#call('DELETE', `/secrets/${seg(name)}`);
  }

  secretAudit(name: string, query: AuditQuery = {}): Promise<ProxyAuditEvent[]> {
    return this.#call('GET', `/secrets/${seg(name)}/audit`, { query: { ...query } });
  }

  secretSandboxes(name: string): Promise<SecretSandboxBinding[]> {
    return this.#call('GET', `/secrets/${seg(name)}/sandboxes`);
  }

  secretSandboxesPage(name: string, query: ListQuery = {}): Promise<Page<SecretSandboxBinding>> {
    return this.#call('GET', `/secrets/${seg(name)}/sandboxes`, { query: paged(query) });
  }

  createSandbox(request: CreateSandboxRequest): Promise<SandboxInfo> {
    return this.#call('POST', '/sandboxes', { body: request });
  }

  /** Every sandbox, as one array (Superserve's shape). */
  listSandboxes(): Promise<SandboxInfo[]> {
    return this.#call('GET', '/sandboxes');
  }

  /** One page of sandboxes, in creation order. */
  listSandboxesPage(query: ListQuery = {}): Promise<Page<SandboxInfo>> {
    return this.#call('GET', '/sandboxes', { query: paged(query) });
  }

  /** The live sandbox with this name (names are unique among live sandboxes), or undefined. */
  async findSandboxByName(name: string): Promise<SandboxInfo | undefined> {
    return (await this.listSandboxes()).find((s) => s.name === name);
  }

  getSandbox(id: string): Promise<SandboxInfo> {
    return this.#call('GET', `/sandboxes/${seg(id)}`);
  }

  deleteSandbox(id: string): Promise<void> {
    return this.#call('DELETE', `/sandboxes/${seg(id)}`);
  }

  attachSecret(sandboxId: string, request: AttachSecretRequest): Promise<AttachSecretRequest> {
    return this.#call('POST', `/sandboxes/${seg(sandboxId)}/secrets`, { body: request });
  }

  detachSecret(sandboxId: string, envKey: string): Promise<void> {
    return this.#call('DELETE', `/sandboxes/${seg(sandboxId)}/secrets/${seg(envKey)}`);
  }

  sandboxNetwork(sandboxId: string, query: NetworkQuery = {}): Promise<NetworkPage> {
    return this.#call('GET', `/sandboxes/${seg(sandboxId)}/network`, { query: { ...query } });
  }

  /** Sets keys (creating the agent on first use); returns every key now set. */
  setAgentSecrets(agent: string, secrets: Record<string, string>): Promise<AgentSecretKeys> {
    return this.#call('PATCH', `/v1/agents/${seg(agent)}/secrets`, { body: { secrets } });
  }

  listAgentSecrets(agent: string): Promise<AgentSecretKeys> {
    return this.#call('GET', `/v1/agents/${seg(agent)}/secrets`);
  }

  deleteAgentSecret(agent: string, key: string): Promise<AgentSecretKeys> {
    return this.#call('DELETE', `/v1/agents/${seg(agent)}/secrets/${seg(key)}`);
  }

  listAgents(): Promise<AgentInfo[]> {
    return this.#call('GET', '/v1/agents');
  }

  getAgent(agent: string): Promise<AgentInfo> {
    return this.#call('GET', `/v1/agents/${seg(agent)}`);
  }

  /** Registers or updates an agent from its agent file. */
  putAgent(agent: string, definition: AgentDefinition): Promise<AgentInfo> {
    return this.#call('PUT', `/v1/agents/${seg(agent)}`, { body: definition });
  }

  deleteAgent(agent: string): Promise<void> {
    return this.#call('DELETE', `/v1/agents/${seg(agent)}`);
  }

  /**
   * The environment to run the agent with; RequestError 422 with `details.missing` when required
   * secrets are unset. `sidecar` (fleet control plane) places the agent's new sandbox on that
   * sidecar; 409 when its sandbox already is on another.
   */
  runAgent(agent: string, options: { sidecar?: string } = {}): Promise<AgentRunInfo> {
    return this.#call('POST', `/v1/agents/${seg(agent)}/run`, options.sidecar === undefined ? {} : { body: { sidecar: options.sidecar } });
  }

  async #call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const url = new URL(this.#base + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { 'x-api-key': this.#apiKey, accept: options.text ? '*/*' : 'application/json' };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      response = await this.#fetch(url, { method, headers, body });
    } catch (err) {
      throw new RequestError(0, 'network_error', unreachable(this.#base, err));
    }
    const text = await response.text();
    // Every response the proxy listener makes itself carries this header; the admin API's never do.
    if (response.headers.get('x-credproxy-error') === 'true') {
      throw new RequestError(
        response.status,
        'not_admin_api',
        `${this.#base} is credproxy's proxy listener, not its admin API: use the admin address (port 8081 by default, the "admin" field of the ready line)`,
      );
    }
    if (!response.ok) throw RequestError.fromResponse(response.status, parseJson(text));
    if (options.text) return text as T;
    if (text === '') return undefined as T;
    return parseJson(text) as T;
  }
}

/** Why fetch could not get a response, as something to do about it. */
function unreachable(base: string, err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused — is credproxy serve running at ${base}?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the host of ${base} (${code})`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `${base} closed the connection without answering; is it credproxy's admin API, over http:// (not https://)?`;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `TLS to ${base} failed: the admin API speaks plain http://, not https://`;
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return `timed out connecting to ${base}: is that the admin address, and does nothing filter the port?`;
    default:
      return `cannot reach the admin API at ${base}: ${code || cause?.message || (err as Error).message}`;
  }
}

/** A page query always names its limit: without `limit` or `cursor` the server answers the whole list. */
function paged(query: ListQuery): Query {
  return { limit: query.limit ?? 100, cursor: query.cursor };
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
