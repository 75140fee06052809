import type { AuthType } from '../auth-shapes/index.js';
import type { SecretValue } from '../secrets/secret-value.js';

/** A secret's injection rules, without its value. */
export interface SecretRuleRecord {
  readonly id: string;
  readonly name: string;
  readonly authType: AuthType;
  /** Exactly the API's auth_config: `{}`, `{username}`, `{header, prefix?}`, `{headers}` or `{per_host: [...]}`. */
  readonly authConfig: Readonly<Record<string, unknown>>;
  readonly hosts: readonly string[];
  /** The provider shortcut the secret was created from, if any: its catalogue entry may accept more shapes. */
  readonly provider?: string | null;
}

/**
 * Why a binding no longer works; null while it is live. `proxy_token_revoked`: detached from its
 * sandbox; `credential_revoked`: its secret was deleted.
 */
export type BindingRevocation = null | 'credential_revoked' | 'proxy_token_revoked';

export interface BindingRecord {
  readonly id: number;
  readonly sandboxId: string;
  readonly envKey: string;
  readonly standIn: string;
  /**
   * The bound secret's id, kept after the secret is deleted (the audit rows of its refused
   * stand-ins name it); null only for a binding whose secret was deleted before ids were kept.
   */
  readonly secretId: string | null;
  readonly secretName: string;
  readonly revoked: BindingRevocation;
}

export interface NetworkPolicyRecord {
  readonly allow_out: readonly string[];
  readonly deny_out: readonly string[];
}

export interface SandboxRuleRecord {
  readonly id: string;
  readonly name: string;
  readonly accessToken: string;
  readonly network: NetworkPolicyRecord;
  /**
   * The addresses its transparent-mode connections come from, as the API stores them (one
   * spelling each, validated); the table indexes them in canonicalIp() form.
   */
  readonly sourceAddresses: readonly string[];
  /** Every binding ever made in this sandbox, detached and revoked ones included. */
  readonly bindings: readonly BindingRecord[];
  /**
   * When its access token stops authenticating (RFC 3339); absent = never. Travels in a fleet
   * bundle as is, so a sidecar enforces it without hearing of the sweep.
   */
  readonly expiresAt?: string;
}

/**
 * What the rule table reads: the SQLite store (store/rule-source.ts) or, in a fleet sidecar, the
 * bundle it holds in memory. Every call is synchronous and reads one entity; the table calls it
 * when a sandbox is first used and when a StoreChange names an entity, never otherwise per request.
 */
export interface RuleSource {
  /** All sandboxes, for building the token and stand-in indexes at start. */
  listSandboxes(): SandboxRuleRecord[];
  getSandbox(sandboxId: string): SandboxRuleRecord | undefined;
  getSecretRule(secretId: string): SecretRuleRecord | undefined;
  /** Decrypts a secret's value. */
  revealSecret(secretId: string): SecretValue | undefined;
}

/**
 * What changed in the source, applied by RuleTable.apply() synchronously before the change's API
 * call returns. A change names one entity and the table reads that entity alone, so each costs
 * O(what it touched): a secret bound to thousands of sandboxes is still one `secret` change.
 * Whoever emits changes has already updated the source.
 */
export type StoreChange =
  /** Created, deleted, a binding attached or detached, its network policy changed. */
  | { readonly kind: 'sandbox'; readonly sandboxId: string }
  /**
   * Rotated, deleted, or its rules changed. Its bindings need no change of their own: a deleted
   * secret's bindings answer `credential_revoked` because getSecretRule() no longer finds it.
   */
  | { readonly kind: 'secret'; readonly secretId: string };
