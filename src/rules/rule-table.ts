import { LRUCache } from 'lru-cache';
import type { SandboxIdentity } from '../proxy/policy.js';
import { CompiledBinding, type BindingRefusal } from './compiled-binding.js';
import { compileSecret, type CompiledSecret } from './compiled-secret.js';
import { compileNetworkPolicy, type NetworkPolicy } from './network-policy.js';
import type { BindingRecord, RuleSource, SandboxRuleRecord, StoreChange } from './source.js';
import { tokenKey } from './token-scan.js';

/** Which sandbox and binding a stand-in was issued to. */
export interface StandInOwner {
  readonly sandboxId: string;
  readonly bindingId: number;
  /** For the audit row of a refusal, also after the secret was deleted. */
  readonly secretId: string | undefined;
}

/** A sandbox's rules, compiled on first use: identity, egress policy and every binding. */
export interface CompiledSandbox {
  readonly identity: SandboxIdentity;
  readonly network: NetworkPolicy;
  /** Bindings that can inject, in the order their stand-ins are looked for. */
  readonly live: readonly CompiledBinding[];
  /** Any binding ever made in the sandbox, revoked ones included. */
  binding(bindingId: number): CompiledBinding | undefined;
}

export interface RuleTableOptions {
  /** Compiled sandboxes kept in memory; the least recently used is dropped beyond it. Default 10,000. */
  maxSandboxes?: number;
}

/** What the global indexes remember of a sandbox, to take it out again. */
interface IndexedSandbox {
  readonly identity: SandboxIdentity;
  readonly tokenKey: string;
  readonly standIns: readonly { key: string; length: number }[];
  readonly secretIds: readonly string[];
}

/**
 * The in-memory rule table behind the proxy policy. Global indexes (access token → identity,
 * stand-in → owner, secret → sandboxes) cover every sandbox from the start and are keyed by
 * SHA-256 of the token. Compiled sandboxes (bindings, revealed secret values, host patterns,
 * network policy) sit in a bounded LRU and are read from the RuleSource on first use only.
 * apply() updates both synchronously, so a request that starts after a store change returned
 * sees it; there is no TTL.
 */
export class RuleTable {
  readonly #source: RuleSource;
  readonly #tokens = new Map<string, SandboxIdentity>();
  readonly #standIns = new Map<string, StandInOwner>();
  /** How many indexed stand-ins have each length: runs of other lengths are never hashed. */
  readonly #standInLengths = new Map<number, number>();
  readonly #sandboxes = new Map<string, IndexedSandbox>();
  readonly #sandboxesBySecret = new Map<string, Set<string>>();
  /** Sandbox ids by name: names need not be unique. */
  readonly #byName = new Map<string, Set<string>>();
  readonly #compiled: LRUCache<string, CompiledSandbox>;

  /** Reads every sandbox from the source to build the global indexes (at start, off the hot path). */
  constructor(source: RuleSource, options: RuleTableOptions = {}) {
    this.#source = source;
    this.#compiled = new LRUCache({ max: options.maxSandboxes ?? 10_000 });
    for (const record of source.listSandboxes()) this.#index(record);
  }

  /** The sandbox an access token authenticates, if any. */
  identityForToken(token: string): SandboxIdentity | undefined {
    return this.#tokens.get(tokenKey(token));
  }

  /**
   * The sandbox named `ref`: its id, or else its name when exactly one sandbox has it. Returns a
   * reason instead when there is none or the name is ambiguous.
   */
  identityForSandbox(ref: string): SandboxIdentity | string {
    const byId = this.#sandboxes.get(ref);
    if (byId) return byId.identity;
    const named = this.#byName.get(ref);
    if (named === undefined) return `no sandbox has the id or name ${JSON.stringify(ref)}`;
    if (named.size > 1) return `${named.size} sandboxes are named ${JSON.stringify(ref)}; name it by id`;
    return this.#sandboxes.get(named.values().next().value!)!.identity;
  }

  /** The owner of a stand-in (live or revoked), if it is one. */
  standInOwner(token: string): StandInOwner | undefined {
    return this.#standIns.get(tokenKey(token));
  }

  /** True when some stand-in has this length; cheap pre-filter before hashing a candidate. */
  readonly isStandInLength = (length: number): boolean => this.#standInLengths.has(length);

  /** A sandbox's compiled rules; undefined once it is deleted. Reads the source on a cache miss only. */
  sandbox(sandboxId: string): CompiledSandbox | undefined {
    if (!this.#sandboxes.has(sandboxId)) return undefined;
    const cached = this.#compiled.get(sandboxId);
    if (cached) return cached;
    const record = this.#source.getSandbox(sandboxId);
    return record ? this.#cache(record) : undefined;
  }

  /** Takes in a store change at once: indexes updated, cached sandboxes recompiled or dropped. */
  apply(change: StoreChange): void {
    if (change.kind === 'sandbox') {
      this.#refresh(change.sandboxId);
      return;
    }
    // The store has already updated the bindings (a deleted secret's bindings lost their
    // secret id), so the sandboxes come from the index as it was before the change.
    for (const sandboxId of [...(this.#sandboxesBySecret.get(change.secretId) ?? [])]) this.#refresh(sandboxId);
  }

  #refresh(sandboxId: string): void {
    const record = this.#source.getSandbox(sandboxId);
    if (!record) {
      this.#unindex(sandboxId);
      this.#compiled.delete(sandboxId);
      return;
    }
    this.#index(record);
    if (this.#compiled.has(sandboxId)) this.#cache(record);
  }

  #index(record: SandboxRuleRecord): void {
    this.#unindex(record.id);
    const identity: SandboxIdentity = Object.freeze({ sandboxId: record.id, sandboxName: record.name });
    const entry: IndexedSandbox = {
      identity,
      tokenKey: tokenKey(record.accessToken),
      standIns: record.bindings.map((b) => ({ key: tokenKey(b.standIn), length: b.standIn.length })),
      secretIds: [...new Set(record.bindings.flatMap((b) => (b.secretId ? [b.secretId] : [])))],
    };
    this.#sandboxes.set(record.id, entry);
    this.#tokens.set(entry.tokenKey, identity);
    addTo(this.#byName, record.name, record.id);
    record.bindings.forEach((b, i) => {
      const { key, length } = entry.standIns[i]!;
      this.#standIns.set(key, { sandboxId: record.id, bindingId: b.id, secretId: b.secretId ?? b.deletedSecretId ?? undefined });
      this.#standInLengths.set(length, (this.#standInLengths.get(length) ?? 0) + 1);
    });
    for (const secretId of entry.secretIds) addTo(this.#sandboxesBySecret, secretId, record.id);
  }

  #unindex(sandboxId: string): void {
    const entry = this.#sandboxes.get(sandboxId);
    if (!entry) return;
    this.#sandboxes.delete(sandboxId);
    this.#tokens.delete(entry.tokenKey);
    for (const { key, length } of entry.standIns) {
      this.#standIns.delete(key);
      const left = (this.#standInLengths.get(length) ?? 1) - 1;
      if (left > 0) this.#standInLengths.set(length, left);
      else this.#standInLengths.delete(length);
    }
    for (const secretId of entry.secretIds) removeFrom(this.#sandboxesBySecret, secretId, sandboxId);
    removeFrom(this.#byName, entry.identity.sandboxName, sandboxId);
  }

  #cache(record: SandboxRuleRecord): CompiledSandbox {
    const compiled = this.#compile(record);
    this.#compiled.set(record.id, compiled);
    return compiled;
  }

  #compile(record: SandboxRuleRecord): CompiledSandbox {
    const secrets = new Map<string, CompiledSecret | BindingRefusal>();
    const all = new Map<number, CompiledBinding>();
    const live: CompiledBinding[] = [];
    for (const b of record.bindings) {
      const compiled = this.#compileBinding(b, secrets);
      all.set(b.id, compiled);
      if (compiled.matcher) live.push(compiled);
    }
    return {
      identity: this.#sandboxes.get(record.id)?.identity ?? Object.freeze({ sandboxId: record.id, sandboxName: record.name }),
      network: compileNetworkPolicy(record.network),
      live,
      binding: (bindingId) => all.get(bindingId),
    };
  }

  #compileBinding(record: BindingRecord, secrets: Map<string, CompiledSecret | BindingRefusal>): CompiledBinding {
    if (record.revoked === 'proxy_token_revoked') {
      return CompiledBinding.refused(record, { code: 'proxy_token_revoked', detail: `the ${record.envKey} binding was detached from this sandbox` });
    }
    if (record.revoked === 'credential_revoked' || record.secretId === null) {
      return CompiledBinding.refused(record, deletedSecret(record.secretName));
    }
    let secret = secrets.get(record.secretId);
    if (!secret) secrets.set(record.secretId, (secret = this.#loadSecret(record.secretId, record.secretName)));
    return 'code' in secret ? CompiledBinding.refused(record, secret) : CompiledBinding.live(record, secret);
  }

  #loadSecret(secretId: string, secretName: string): CompiledSecret | BindingRefusal {
    const rule = this.#source.getSecretRule(secretId);
    const value = rule && this.#source.revealSecret(secretId);
    if (!rule || !value) return deletedSecret(secretName);
    try {
      return compileSecret(rule, value);
    } catch (err) {
      // compileSecret's messages name the secret and the fault, never the value.
      return { code: 'inject_error', detail: (err as Error).message };
    }
  }
}

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(id);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const set = index.get(key);
  set?.delete(id);
  if (set?.size === 0) index.delete(key);
}

function deletedSecret(secretName: string): BindingRefusal {
  return { code: 'credential_revoked', detail: `secret ${JSON.stringify(secretName)} was deleted` };
}
