import { LRUCache } from 'lru-cache';
import { canonicalIp } from '../proxy/address-class.js';
import type { SandboxIdentity } from '../proxy/policy.js';
import { CompiledBinding } from './compiled-binding.js';
import { compileNetworkPolicy, type NetworkPolicy } from './network-policy.js';
import { deletedSecret, SecretSlot } from './secret-slot.js';
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
  /**
   * Bindings that could inject when the sandbox was compiled, in the order their stand-ins are
   * looked for. One whose secret has been deleted since has no `secret` and is passed over.
   */
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
  /** Its source addresses in canonicalIp() form. */
  readonly sources: readonly string[];
}

/** A compiled sandbox and the secret slots its bindings hold. */
interface CacheEntry {
  readonly sandbox: CompiledSandbox;
  readonly slots: readonly SecretSlot[];
}

/**
 * The in-memory rule table behind the proxy policy. Global indexes (access token → identity,
 * stand-in → owner, both keyed by SHA-256 of the token; source address → identity) cover every
 * sandbox from the start. Compiled sandboxes (bindings, host patterns, network policy) sit in a
 * bounded LRU and are read from the RuleSource on first use only; their bindings share one slot
 * per secret (its compiled rules and revealed value), kept while any cached binding holds it.
 *
 * apply() takes a StoreChange synchronously, so a request that starts after the change returned
 * sees it (there is no TTL), and reads only what the change names: a `sandbox` change that one
 * sandbox (its bindings at most), a `secret` change that one secret, whatever number of
 * sandboxes bind it. That is the whole change API: the SQLite store and a fleet sidecar's bundle
 * drive it alike (see source.ts).
 */
export class RuleTable {
  readonly #source: RuleSource;
  readonly #tokens = new Map<string, SandboxIdentity>();
  readonly #standIns = new Map<string, StandInOwner>();
  /** How many indexed stand-ins have each length: runs of other lengths are never hashed. */
  readonly #standInLengths = new Map<number, number>();
  readonly #sandboxes = new Map<string, IndexedSandbox>();
  /** Sandbox ids by name: names need not be unique. */
  readonly #byName = new Map<string, Set<string>>();
  /**
   * Sandbox ids by source address (canonicalIp form). The store lets one sandbox at most declare
   * an address; should two ever be indexed at once, the address identifies neither.
   */
  readonly #bySource = new Map<string, Set<string>>();
  readonly #slots = new Map<string, SecretSlot>();
  readonly #compiled: LRUCache<string, CacheEntry>;

  /** Reads every sandbox from the source to build the global indexes (at start, off the hot path). */
  constructor(source: RuleSource, options: RuleTableOptions = {}) {
    this.#source = source;
    this.#compiled = new LRUCache({
      max: options.maxSandboxes ?? 10_000,
      // Evicted, replaced or deleted: its bindings no longer hold their secrets' slots.
      dispose: (entry) => this.#release(entry.slots),
    });
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

  /**
   * The sandbox that declared `address` (in canonicalIp form, as the transparent listener gives
   * it) in its source_addresses. Returns a reason instead when none or more than one did.
   */
  identityForSource(address: string): SandboxIdentity | string {
    const ids = this.#bySource.get(address);
    if (ids === undefined) return `no sandbox declares the source address ${address}`;
    if (ids.size > 1) return `${ids.size} sandboxes declare the source address ${address}`;
    return this.#sandboxes.get(ids.values().next().value!)!.identity;
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
    if (cached) return cached.sandbox;
    const record = this.#source.getSandbox(sandboxId);
    return record ? this.#cache(record) : undefined;
  }

  /** Takes in a store change at once: indexes updated, cached sandboxes recompiled or dropped, slots reloaded. */
  apply(change: StoreChange): void {
    if (change.kind === 'sandbox') this.#refresh(change.sandboxId);
    else this.#slots.get(change.secretId)?.reload(this.#source);
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
    const identity = identityOf(record);
    const entry: IndexedSandbox = {
      identity,
      tokenKey: tokenKey(record.accessToken),
      standIns: record.bindings.map((b) => ({ key: tokenKey(b.standIn), length: b.standIn.length })),
      sources: record.sourceAddresses.map(canonicalIp),
    };
    this.#sandboxes.set(record.id, entry);
    this.#tokens.set(entry.tokenKey, identity);
    addTo(this.#byName, record.name, record.id);
    for (const source of entry.sources) addTo(this.#bySource, source, record.id);
    record.bindings.forEach((b, i) => {
      const { key, length } = entry.standIns[i]!;
      this.#standIns.set(key, { sandboxId: record.id, bindingId: b.id, secretId: b.secretId ?? undefined });
      this.#standInLengths.set(length, (this.#standInLengths.get(length) ?? 0) + 1);
    });
  }

  #unindex(sandboxId: string): void {
    const entry = this.#sandboxes.get(sandboxId);
    if (!entry) return;
    this.#sandboxes.delete(sandboxId);
    this.#tokens.delete(entry.tokenKey);
    removeFrom(this.#byName, entry.identity.sandboxName, sandboxId);
    for (const source of entry.sources) removeFrom(this.#bySource, source, sandboxId);
    for (const { key, length } of entry.standIns) {
      this.#standIns.delete(key);
      const left = (this.#standInLengths.get(length) ?? 1) - 1;
      if (left > 0) this.#standInLengths.set(length, left);
      else this.#standInLengths.delete(length);
    }
  }

  /** Compiles the sandbox and caches it; its slots are taken before the entry it replaces lets go of its own. */
  #cache(record: SandboxRuleRecord): CompiledSandbox {
    const slots: SecretSlot[] = [];
    const all = new Map<number, CompiledBinding>();
    const live: CompiledBinding[] = [];
    for (const b of record.bindings) {
      const compiled = this.#compileBinding(b, slots);
      all.set(b.id, compiled);
      if (compiled.matcher) live.push(compiled);
    }
    const sandbox: CompiledSandbox = {
      identity: this.#sandboxes.get(record.id)?.identity ?? identityOf(record),
      network: compileNetworkPolicy(record.network),
      live,
      binding: (bindingId) => all.get(bindingId),
    };
    this.#compiled.set(record.id, { sandbox, slots });
    return sandbox;
  }

  #compileBinding(record: BindingRecord, slots: SecretSlot[]): CompiledBinding {
    if (record.revoked === 'proxy_token_revoked') {
      return CompiledBinding.refused(record, { code: 'proxy_token_revoked', detail: `the ${record.envKey} binding was detached from this sandbox` });
    }
    if (record.revoked === 'credential_revoked' || record.secretId === null) {
      return CompiledBinding.refused(record, deletedSecret(record.secretName));
    }
    let slot = this.#slots.get(record.secretId);
    if (!slot) this.#slots.set(record.secretId, (slot = new SecretSlot(this.#source, record.secretId, record.secretName)));
    slot.refs++;
    slots.push(slot);
    return CompiledBinding.attached(record, slot);
  }

  #release(slots: readonly SecretSlot[]): void {
    for (const slot of slots) {
      if (--slot.refs === 0 && this.#slots.get(slot.id) === slot) this.#slots.delete(slot.id);
    }
  }
}

/** Parsed once here, so the proxy's expiry check is a comparison with Date.now(). */
function identityOf(record: SandboxRuleRecord): SandboxIdentity {
  const identity: SandboxIdentity =
    record.expiresAt === undefined
      ? { sandboxId: record.id, sandboxName: record.name }
      : { sandboxId: record.id, sandboxName: record.name, expiresAt: Date.parse(record.expiresAt) };
  return Object.freeze(identity);
}

function addTo(index: Map<string, Set<string>>, key: string, sandboxId: string): void {
  let ids = index.get(key);
  if (!ids) index.set(key, (ids = new Set()));
  ids.add(sandboxId);
}

function removeFrom(index: Map<string, Set<string>>, key: string, sandboxId: string): void {
  const ids = index.get(key);
  ids?.delete(sandboxId);
  if (ids?.size === 0) index.delete(key);
}
