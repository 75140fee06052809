import type { Bundle, BundleSecret } from '../fleet/protocol.js';
import type { RuleSource, SandboxRuleRecord, SecretRuleRecord, StoreChange } from '../rules/source.js';
import { SecretValue } from '../secrets/secret-value.js';

interface HeldSecret {
  readonly rule: SecretRuleRecord;
  readonly value: SecretValue;
}

/**
 * The sidecar's RuleSource: the bundle from the control plane, in memory only. Taking in a
 * bundle returns the StoreChanges the rule table must apply, exactly as the SQLite store emits
 * them, so the proxy's rule table works the same in both modes.
 */
export class BundleRuleSource implements RuleSource {
  readonly #sandboxes = new Map<string, SandboxRuleRecord>();
  readonly #secrets = new Map<string, HeldSecret>();

  listSandboxes(): SandboxRuleRecord[] {
    return [...this.#sandboxes.values()];
  }

  getSandbox(sandboxId: string): SandboxRuleRecord | undefined {
    return this.#sandboxes.get(sandboxId);
  }

  getSecretRule(secretId: string): SecretRuleRecord | undefined {
    return this.#secrets.get(secretId)?.rule;
  }

  revealSecret(secretId: string): SecretValue | undefined {
    return this.#secrets.get(secretId)?.value;
  }

  get sandboxCount(): number {
    return this.#sandboxes.size;
  }

  /** True when a secret's value is held (some live binding names it). */
  holdsSecret(secretId: string): boolean {
    return this.#secrets.has(secretId);
  }

  /**
   * Takes in one secret as the control plane now has it (`?secret=`): replaced in place, or
   * forgotten when absent (deleted), so the rule table reloads its one slot and every binding of
   * it answers with the new value or credential_revoked.
   */
  takeSecret(secretId: string, bundle: Bundle): StoreChange[] {
    const secret = bundle.secrets.find((s) => s.id === secretId);
    if (secret) this.#secrets.set(secretId, held(secret));
    else this.#secrets.delete(secretId);
    return [{ kind: 'secret', secretId }];
  }

  /**
   * Takes in a bundle: a complete one replaces everything; a partial one replaces the sandboxes
   * in `requested` (those it lacks are gone). Secrets no live binding names any more are forgotten.
   */
  take(bundle: Bundle, requested: readonly string[] = []): StoreChange[] {
    const changes: StoreChange[] = [];
    const before = new Map([...this.#secrets].map(([id, held]) => [id, held]));
    const touched = new Set(bundle.complete ? this.#sandboxes.keys() : requested);
    if (bundle.complete) this.#sandboxes.clear();
    else for (const id of requested) this.#sandboxes.delete(id);
    for (const sandbox of bundle.sandboxes) {
      this.#sandboxes.set(sandbox.id, sandbox);
      touched.add(sandbox.id);
    }
    for (const secret of bundle.secrets) this.#secrets.set(secret.id, held(secret));
    const bound = new Set([...this.#sandboxes.values()].flatMap((s) => s.bindings.flatMap((b) => (b.secretId && b.revoked === null ? [b.secretId] : []))));
    for (const id of this.#secrets.keys()) if (!bound.has(id)) this.#secrets.delete(id);
    // A secret whose value or rules changed: every sandbox the table compiled with it recompiles.
    for (const [id, old] of before) {
      const now = this.#secrets.get(id);
      if (!now || now.value !== old.value) changes.push({ kind: 'secret', secretId: id });
    }
    for (const id of touched) changes.push({ kind: 'sandbox', sandboxId: id });
    return changes;
  }

  /** Forgets everything (the sidecar's token was revoked). */
  clear(): StoreChange[] {
    return this.take({ seq: 0, complete: true, sandboxes: [], secrets: [] });
  }
}

function held(secret: BundleSecret): HeldSecret {
  const { value, ...rule } = secret;
  return { rule, value: new SecretValue(value) };
}
