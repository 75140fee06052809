import type { SecretValue } from '../secrets/secret-value.js';

/** A single auth shape, as stored in a secret's auth_config (the API's rule minus nothing). */
export type AuthRule =
  | { readonly type: 'bearer' }
  | { readonly type: 'basic'; readonly username?: string }
  | { readonly type: 'api-key'; readonly header: string; readonly prefix?: string }
  | { readonly type: 'custom'; readonly headers: Readonly<Record<string, string>> };

export type AuthType = AuthRule['type'] | 'per_host';

export type PerHostRule = AuthRule & { readonly hosts: readonly string[] };

/** A secret's injection rules, without its value. */
export interface SecretRuleRecord {
  readonly id: string;
  readonly name: string;
  readonly authType: AuthType;
  /** Exactly the API's auth_config: `{}`, `{username}`, `{header, prefix?}`, `{headers}` or `{per_host: [...]}`. */
  readonly authConfig: Readonly<Record<string, unknown>>;
  readonly hosts: readonly string[];
}

/** Why a binding no longer works; null while it is live. */
export type BindingRevocation = null | 'credential_revoked' | 'proxy_token_revoked';

export interface BindingRecord {
  readonly id: number;
  readonly sandboxId: string;
  readonly envKey: string;
  readonly standIn: string;
  /** null once the secret was deleted. */
  readonly secretId: string | null;
  /** The deleted secret's id, for the audit rows of its refused stand-ins; null while it exists. */
  readonly deletedSecretId: string | null;
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
  /** Every binding ever made in this sandbox, detached and revoked ones included. */
  readonly bindings: readonly BindingRecord[];
}

/**
 * What the rule table reads from the store. Implemented by store/rule-source.ts; every call is
 * a synchronous SQLite read, made only when a sandbox is loaded or reloaded, never per request.
 */
export interface RuleSource {
  /** All sandboxes, for building the token and stand-in indexes at start. */
  listSandboxes(): SandboxRuleRecord[];
  getSandbox(sandboxId: string): SandboxRuleRecord | undefined;
  getSecretRule(secretId: string): SecretRuleRecord | undefined;
  /** Decrypts a secret's value. */
  revealSecret(secretId: string): SecretValue | undefined;
}

/** What changed in the store; the rule table invalidates synchronously on each. */
export type StoreChange =
  | { readonly kind: 'sandbox'; readonly sandboxId: string } // created, bindings attached/detached, deleted
  | { readonly kind: 'secret'; readonly secretId: string }; // rotated or deleted (bindings already updated)
