import { randomBytes, randomUUID } from 'node:crypto';
import type { AuthRule, PerHostRule } from '../../src/auth-shapes/index.js';
import type {
  NetworkPolicyRecord,
  RuleSource,
  SandboxRuleRecord,
  SecretRuleRecord,
  StoreChange,
} from '../../src/rules/source.js';
import { SecretValue } from '../../src/secrets/secret-value.js';

export interface MemorySecretInput {
  name: string;
  value: string;
  auth: AuthRule | { per_host: PerHostRule[] };
  hosts: string[];
  /** A provider shortcut name, as a `{provider}` secret stores it. */
  provider?: string;
}

export interface MemorySandboxInput {
  name?: string;
  network?: Partial<NetworkPolicyRecord>;
  /** env key → secret id */
  secrets?: Record<string, string>;
  sourceAddresses?: string[];
  /** RFC 3339; absent = never expires. */
  expiresAt?: string;
}

interface MutableBinding {
  id: number;
  envKey: string;
  standIn: string;
  secretId: string | null;
  secretName: string;
  /** Its own detach; `credential_revoked` is read from whether the secret still exists, as in the store. */
  detached: boolean;
}

interface MutableSandbox {
  id: string;
  name: string;
  accessToken: string;
  network: NetworkPolicyRecord;
  sourceAddresses: string[];
  bindings: MutableBinding[];
  expiresAt?: string;
}

/**
 * An in-memory RuleSource for unit tests. Its mutators behave like the store (a deleted secret
 * leaves its bindings as they are, which then read as revoked; a detach keeps the row) and return
 * the StoreChange the store would emit. `reads` counts every call, to assert the hot path never
 * reads the source.
 */
export class MemoryRuleSource implements RuleSource {
  readonly reads = { listSandboxes: 0, getSandbox: 0, getSecretRule: 0, revealSecret: 0 };
  readonly #secrets = new Map<string, { rule: SecretRuleRecord; value: string }>();
  readonly #sandboxes = new Map<string, MutableSandbox>();
  #nextBindingId = 1;

  addSecret(input: MemorySecretInput): SecretRuleRecord {
    const id = randomUUID();
    const provider = input.provider ?? null;
    const rule: SecretRuleRecord = 'per_host' in input.auth
      ? { id, name: input.name, authType: 'per_host', authConfig: { per_host: input.auth.per_host }, hosts: input.hosts, provider }
      : { id, name: input.name, authType: input.auth.type, authConfig: authConfigOf(input.auth), hosts: input.hosts, provider };
    this.#secrets.set(id, { rule, value: input.value });
    return rule;
  }

  rotateSecret(secretId: string, value: string): StoreChange {
    this.#secret(secretId).value = value;
    return { kind: 'secret', secretId };
  }

  deleteSecret(secretId: string): StoreChange {
    this.#secrets.delete(secretId);
    return { kind: 'secret', secretId };
  }

  addSandbox(input: MemorySandboxInput = {}): SandboxRuleRecord {
    const id = randomUUID();
    this.#sandboxes.set(id, {
      id,
      name: input.name ?? `sandbox-${id.slice(0, 8)}`,
      accessToken: randomBytes(32).toString('base64url'),
      network: { allow_out: input.network?.allow_out ?? [], deny_out: input.network?.deny_out ?? [] },
      sourceAddresses: input.sourceAddresses ?? [],
      bindings: [],
      ...(input.expiresAt !== undefined && { expiresAt: input.expiresAt }),
    });
    for (const [envKey, secretId] of Object.entries(input.secrets ?? {})) this.attach(id, envKey, secretId);
    return this.getSandboxRecord(id);
  }

  attach(sandboxId: string, envKey: string, secretId: string): StoreChange {
    const secret = this.#secret(secretId);
    this.#sandbox(sandboxId).bindings.push({
      id: this.#nextBindingId++,
      envKey,
      standIn: `sk-test-${randomBytes(24).toString('base64url')}`,
      secretId,
      secretName: secret.rule.name,
      detached: false,
    });
    return { kind: 'sandbox', sandboxId };
  }

  detach(sandboxId: string, envKey: string): StoreChange {
    this.#binding(sandboxId, envKey).detached = true;
    return { kind: 'sandbox', sandboxId };
  }

  deleteSandbox(sandboxId: string): StoreChange {
    this.#sandboxes.delete(sandboxId);
    return { kind: 'sandbox', sandboxId };
  }

  setNetwork(sandboxId: string, network: NetworkPolicyRecord): StoreChange {
    this.#sandbox(sandboxId).network = network;
    return { kind: 'sandbox', sandboxId };
  }

  /** The stand-in of a sandbox's binding (the newest one under that key). */
  standIn(sandboxId: string, envKey: string): string {
    return this.#binding(sandboxId, envKey).standIn;
  }

  /** A snapshot, without counting as a read. */
  getSandboxRecord(sandboxId: string): SandboxRuleRecord {
    return this.#snapshot(this.#sandbox(sandboxId));
  }

  listSandboxes(): SandboxRuleRecord[] {
    this.reads.listSandboxes++;
    return [...this.#sandboxes.values()].map((s) => this.#snapshot(s));
  }

  getSandbox(sandboxId: string): SandboxRuleRecord | undefined {
    this.reads.getSandbox++;
    const sandbox = this.#sandboxes.get(sandboxId);
    return sandbox && this.#snapshot(sandbox);
  }

  getSecretRule(secretId: string): SecretRuleRecord | undefined {
    this.reads.getSecretRule++;
    return this.#secrets.get(secretId)?.rule;
  }

  revealSecret(secretId: string): SecretValue | undefined {
    this.reads.revealSecret++;
    const secret = this.#secrets.get(secretId);
    return secret && new SecretValue(secret.value);
  }

  /** Total reads of every kind. */
  get readCount(): number {
    return Object.values(this.reads).reduce((a, b) => a + b, 0);
  }

  #snapshot(sandbox: MutableSandbox): SandboxRuleRecord {
    const bindings = sandbox.bindings.map(({ detached, ...b }) => ({
      ...b,
      sandboxId: sandbox.id,
      revoked: detached ? 'proxy_token_revoked' as const : b.secretId !== null && this.#secrets.has(b.secretId) ? null : 'credential_revoked' as const,
    }));
    return structuredClone({ ...sandbox, bindings });
  }

  #secret(secretId: string): { rule: SecretRuleRecord; value: string } {
    const secret = this.#secrets.get(secretId);
    if (!secret) throw new Error(`no secret ${secretId}`);
    return secret;
  }

  #sandbox(sandboxId: string): MutableSandbox {
    const sandbox = this.#sandboxes.get(sandboxId);
    if (!sandbox) throw new Error(`no sandbox ${sandboxId}`);
    return sandbox;
  }

  #binding(sandboxId: string, envKey: string): MutableBinding {
    const binding = this.#sandbox(sandboxId).bindings.findLast((b) => b.envKey === envKey);
    if (!binding) throw new Error(`no binding ${envKey}`);
    return binding;
  }
}

function authConfigOf(rule: AuthRule): Record<string, unknown> {
  const { type: _type, ...config } = rule;
  return config;
}


