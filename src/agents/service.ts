import { AGENT_NAME_PATTERN, AGENT_NAME_RULE, AgentFileError, ENV_KEY_PATTERN, ENV_KEY_RULE, validateAgentDefinition } from './agent-file.js';
import { DomainError } from '../errors.js';
import { SIDECAR_METADATA_KEY } from '../fleet/protocol.js';
import { providerForEnvKey } from '../secrets/providers.js';
import { parseCreateSecret } from '../secrets/validate-secret.js';
import type { SecretValue } from '../secrets/secret-value.js';
import type { AgentFields, AgentRecord, AgentSecretRecord } from '../store/agents.js';
import type { SandboxRecord } from '../store/sandboxes.js';
import type { AdminStore, Awaitable } from '../api/admin-store.js';

/** Same cap as a secret's value (docs/contract.md#agent-api). */
const MAX_VALUE_BYTES = 8192;

/** `GET /v1/agents/{agent}` and the list item. */
export interface AgentView {
  id: string;
  name: string;
  command: string | null;
  required_secrets: string[];
  secrets: Array<{ key: string; kind: 'provider' | 'plain' }>;
  sandbox_id: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * The agents and agent_secrets tables: store/agents.ts (SQLite) and store/postgres/agents.ts
 * (control plane) provide it. Plain values are sealed by the store; provider keys only point
 * at their secret, whose lifecycle goes through the secrets store.
 */
export interface AgentStore {
  /** By id (`agt_…`) first, then by name. */
  find(idOrName: string): Awaitable<AgentRecord | undefined>;
  list(): Awaitable<AgentRecord[]>;
  create(fields: AgentFields): Awaitable<AgentRecord>;
  update(id: string, fields: AgentFields): Awaitable<AgentRecord>;
  setSandbox(id: string, sandboxId: string | null): Awaitable<void>;
  delete(id: string): Awaitable<void>;
  secrets(agentId: string): Awaitable<AgentSecretRecord[]>;
  keys(agentId: string): Awaitable<string[]>;
  putProviderKey(agentId: string, key: string, secretId: string): Awaitable<void>;
  putPlainKey(agentId: string, key: string, value: string): Awaitable<void>;
  deleteKey(agentId: string, key: string): Awaitable<boolean>;
  plainValues(agentId: string): Awaitable<Map<string, SecretValue>>;
}

export interface AgentServiceDeps {
  agents: AgentStore;
  secrets: AdminStore['secrets'];
  sandboxes: AdminStore['sandboxes'];
  /** The environment (docs/contract.md#sandbox-env) of a sandbox (stand-ins, proxy, CA trust). */
  sandboxEnv(sandbox: SandboxRecord): Record<string, string>;
}

/**
 * The agent-secrets workflow over the repositories. A key named like a provider's conventional
 * variable becomes a secret of that provider (`agent_<agent>_<KEY>`), bound into the agent's
 * sandbox so the agent only ever sees a stand-in; other keys are sealed plain values. Every
 * secret and binding change goes through SecretsRepository/SandboxesRepository, so the proxy's
 * rule table hears of it.
 */
export class AgentService {
  readonly #deps: AgentServiceDeps;

  constructor(deps: AgentServiceDeps) {
    this.#deps = deps;
  }

  async list(): Promise<AgentView[]> {
    return Promise.all((await this.#deps.agents.list()).map((a) => this.#view(a)));
  }

  async get(ref: string): Promise<AgentView> {
    return this.#view(await this.#require(ref));
  }

  async keys(ref: string): Promise<string[]> {
    return this.#deps.agents.keys((await this.#require(ref)).id);
  }

  /** Sets keys, creating the agent named `ref` on first use; returns every key now set. */
  async setSecrets(ref: string, body: unknown): Promise<string[]> {
    const entries = readSecretsBody(body);
    const agent = (await this.#deps.agents.find(ref)) ?? (await this.#createNamed(ref, { command: null, secrets: [] }));
    const { agents, secrets } = this.#deps;
    const current = new Map((await agents.secrets(agent.id)).map((s) => [s.key, s]));
    for (const [key, value] of entries) {
      const provider = providerForEnvKey(key);
      const existing = current.get(key);
      if (provider && existing?.kind === 'provider') {
        await secrets.rotate(await this.#secretName(existing.secretId!), value);
      } else if (provider) {
        const def = parseCreateSecret({ name: providerSecretName(agent.name, key), value, provider: provider.name });
        await agents.putProviderKey(agent.id, key, (await secrets.create(def)).id);
      } else {
        if (existing?.kind === 'provider') await secrets.delete(await this.#secretName(existing.secretId!));
        await agents.putPlainKey(agent.id, key, value);
      }
    }
    await this.#syncSandbox(agent);
    return agents.keys(agent.id);
  }

  /** Removes one key (and the provider secret behind it); returns the keys left. */
  async deleteSecret(ref: string, key: string): Promise<string[]> {
    const agent = await this.#require(ref);
    const existing = (await this.#deps.agents.secrets(agent.id)).find((s) => s.key === key);
    if (!existing) throw new DomainError('secret_not_found', { key });
    // Deleting the secret cascades to the agent's key row and revokes the binding.
    if (existing.kind === 'provider') await this.#deps.secrets.delete(await this.#secretName(existing.secretId!));
    else await this.#deps.agents.deleteKey(agent.id, key);
    await this.#syncSandbox(agent);
    return this.#deps.agents.keys(agent.id);
  }

  /** Registers or updates an agent from its agent file; `created` tells 201 from 200. */
  async put(ref: string, body: unknown): Promise<{ agent: AgentView; created: boolean }> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new DomainError('agent_invalid', { problem: 'expected a JSON object with name, command and secrets' });
    }
    let def;
    try {
      def = validateAgentDefinition(body as Record<string, unknown>, 'agent');
    } catch (err) {
      if (!(err instanceof AgentFileError)) throw err;
      throw new DomainError('agent_invalid', { problem: err.message.replace(/^agent: /, '') });
    }
    const existing = await this.#deps.agents.find(ref);
    if (!existing) {
      if (def.name !== ref) {
        throw new DomainError('agent_invalid', { problem: `name "${def.name}" does not match the agent in the path ("${ref}")` });
      }
      return { agent: await this.#view(await this.#createNamed(ref, def)), created: true };
    }
    const holder = await this.#deps.agents.find(def.name);
    if (holder && holder.id !== existing.id) throw new DomainError('agent_name_taken', { name: def.name });
    const updated = await this.#deps.agents.update(existing.id, { name: def.name, command: def.command, requiredSecrets: def.secrets });
    return { agent: await this.#view(updated), created: false };
  }

  /** Deletes the agent, its provider secrets and its sandbox. */
  async delete(ref: string): Promise<void> {
    const agent = await this.#require(ref);
    for (const s of await this.#deps.agents.secrets(agent.id)) {
      if (s.kind === 'provider') await this.#deps.secrets.delete(await this.#secretName(s.secretId!));
    }
    if (agent.sandboxId && (await this.#deps.sandboxes.get(agent.sandboxId))) await this.#deps.sandboxes.delete(agent.sandboxId);
    await this.#deps.agents.delete(agent.id);
  }

  /**
   * The environment to start the agent with: its sandbox's (created on first run, reused
   * after) plus plain values. `agent_secrets_missing` lists the keys when required secrets are unset.
   * `sidecar` (fleet mode) assigns a new sandbox to that sidecar; an existing one stays where it is.
   */
  async run(ref: string, options: { sidecar?: string | undefined } = {}): Promise<{ sandbox_id: string; env: Record<string, string> }> {
    const agent = await this.#require(ref);
    const keys = new Set(await this.#deps.agents.keys(agent.id));
    const missing = agent.requiredSecrets.filter((k) => !keys.has(k));
    if (missing.length > 0) throw new DomainError('agent_secrets_missing', { missing });

    const sandbox = (await this.#syncSandbox(agent)) ?? (await this.#createSandbox(agent, options.sidecar));
    const placed = sandbox.metadata[SIDECAR_METADATA_KEY];
    if (options.sidecar !== undefined && placed !== options.sidecar) {
      throw new DomainError('agent_sandbox_elsewhere', { sandbox_id: sandbox.id, sidecar: typeof placed === 'string' ? placed : null });
    }
    const env = this.#deps.sandboxEnv(sandbox);
    for (const [key, value] of await this.#deps.agents.plainValues(agent.id)) env[key] = value.reveal();
    return { sandbox_id: sandbox.id, env };
  }

  async #require(ref: string): Promise<AgentRecord> {
    const agent = await this.#deps.agents.find(ref);
    if (!agent) throw new DomainError('agent_not_found', { agent: ref });
    return agent;
  }

  async #createNamed(name: string, def: { command: string | null; secrets: string[] }): Promise<AgentRecord> {
    if (!AGENT_NAME_PATTERN.test(name)) throw new DomainError('agent_name_invalid', { name, problem: `agent name ${AGENT_NAME_RULE}` });
    return this.#deps.agents.create({ name, command: def.command, requiredSecrets: def.secrets });
  }

  async #secretName(secretId: string): Promise<string> {
    const info = await this.#deps.secrets.getById(secretId);
    if (!info) throw new Error(`agent key points at missing secret ${secretId}`);
    return info.name;
  }

  /** The secret name behind each provider key, by key. */
  async #providerBindings(agent: AgentRecord): Promise<Map<string, string>> {
    const bindings = new Map<string, string>();
    for (const s of await this.#deps.agents.secrets(agent.id)) {
      if (s.kind === 'provider') bindings.set(s.key, await this.#secretName(s.secretId!));
    }
    return bindings;
  }

  async #createSandbox(agent: AgentRecord, sidecar: string | undefined): Promise<SandboxRecord> {
    const sandbox = await this.#deps.sandboxes.create({
      name: `agent-${agent.name}`,
      secrets: Object.fromEntries(await this.#providerBindings(agent)),
      env_vars: {},
      network: { allow_out: [], deny_out: [] },
      metadata: { agent: agent.name, agent_id: agent.id, ...(sidecar !== undefined && { [SIDECAR_METADATA_KEY]: sidecar }) },
    });
    await this.#deps.agents.setSandbox(agent.id, sandbox.id);
    return sandbox;
  }

  /**
   * Makes the agent's sandbox (when it has one) bind exactly its provider keys: attaches new
   * ones, re-attaches keys whose secret was replaced, detaches removed ones. Stand-ins of
   * unchanged keys survive, so a rotated key keeps working in a running agent.
   */
  async #syncSandbox(agent: AgentRecord): Promise<SandboxRecord | undefined> {
    const { agents, sandboxes } = this.#deps;
    const sandboxId = (await agents.find(agent.id))?.sandboxId;
    if (!sandboxId) return undefined;
    let sandbox = await sandboxes.get(sandboxId);
    if (!sandbox) return undefined;
    const wanted = await this.#providerBindings(agent);
    let changed = false;
    for (const b of sandbox.bindings) {
      if (wanted.get(b.envKey) === b.secretName && b.revoked === null) {
        wanted.delete(b.envKey);
      } else {
        await sandboxes.detach(sandbox.id, b.envKey);
        changed = true;
      }
    }
    for (const [key, secretName] of wanted) {
      await sandboxes.attach(sandbox.id, key, secretName);
      changed = true;
    }
    if (changed) sandbox = (await sandboxes.get(sandbox.id))!;
    return sandbox;
  }

  async #view(agent: AgentRecord): Promise<AgentView> {
    return {
      id: agent.id,
      name: agent.name,
      command: agent.command,
      required_secrets: [...agent.requiredSecrets],
      secrets: (await this.#deps.agents.secrets(agent.id)).map((s) => ({ key: s.key, kind: s.kind })),
      sandbox_id: agent.sandboxId,
      created_at: agent.createdAt,
      updated_at: agent.updatedAt,
    };
  }
}

/** The provider secret behind an agent's key: valid under the secret-name rule (agent names and keys are). */
export function providerSecretName(agentName: string, key: string): string {
  return `agent_${agentName}_${key}`;
}

/** `{secrets: {KEY: "value"}}` → entries; `agent_secrets_invalid` naming the key, never the value. */
function readSecretsBody(body: unknown): Array<[string, string]> {
  const secrets = (body as { secrets?: unknown } | null)?.secrets;
  if (secrets === null || typeof secrets !== 'object' || Array.isArray(secrets)) {
    throw new DomainError('agent_secrets_invalid', { problem: 'expected {"secrets": {"KEY": "value", ...}}' });
  }
  const entries = Object.entries(secrets as Record<string, unknown>);
  for (const [key, value] of entries) {
    if (!ENV_KEY_PATTERN.test(key)) throw new DomainError('agent_secrets_invalid', { key, problem: `key ${ENV_KEY_RULE}` });
    if (typeof value !== 'string') throw new DomainError('agent_secrets_invalid', { key, problem: 'value must be a string' });
    if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) {
      throw new DomainError('agent_secrets_invalid', { key, problem: `value exceeds ${MAX_VALUE_BYTES} bytes` });
    }
    if (value === '' && providerForEnvKey(key)) {
      throw new DomainError('agent_secrets_invalid', { key, problem: 'value is required for a provider key' });
    }
  }
  return entries as Array<[string, string]>;
}
