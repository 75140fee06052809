import type { BindingRefusal } from './compiled-binding.js';
import { compileSecret, type CompiledSecret } from './compiled-secret.js';
import type { RuleSource } from './source.js';

/**
 * One secret as every compiled binding of it sees it. The rule table keeps one slot per secret
 * in use and, on a `secret` change, reloads it in place: a rotation or a deletion reaches every
 * binding of the secret at once, at the cost of one read of that secret however many sandboxes
 * bind it.
 */
export class SecretSlot {
  readonly id: string;
  /** Compiled bindings holding this slot; the table drops the slot when the last one goes. */
  refs = 0;
  #secretName: string;
  #state: CompiledSecret | BindingRefusal;
  /** The rule record `#state` was compiled from, to keep the compiled rules across a rotation. */
  #ruleKey: string | undefined;

  /** Reads and compiles the secret; `secretName` names it in the refusal if it is already gone. */
  constructor(source: RuleSource, secretId: string, secretName: string) {
    this.id = secretId;
    this.#secretName = secretName;
    this.#state = this.#load(source);
  }

  /** The secret while it can be injected; undefined once deleted or unusable. */
  get secret(): CompiledSecret | undefined {
    return 'code' in this.#state ? undefined : this.#state;
  }

  /** Why its stand-ins are refused: the secret was deleted, or its stored config is unusable. */
  get refusal(): BindingRefusal | undefined {
    return 'code' in this.#state ? this.#state : undefined;
  }

  /** Reads the secret again after a change (rotated, deleted): O(1) in the bindings that hold it. */
  reload(source: RuleSource): void {
    this.#state = this.#load(source);
  }

  #load(source: RuleSource): CompiledSecret | BindingRefusal {
    const rule = source.getSecretRule(this.id);
    const value = rule && source.revealSecret(this.id);
    if (!rule || !value) {
      this.#ruleKey = undefined;
      return deletedSecret(this.#secretName);
    }
    this.#secretName = rule.name;
    const key = JSON.stringify(rule);
    if (key === this.#ruleKey) {
      // A rotation changes the value only: the compiled rules, and so every binding's matcher, stay.
      const previous = this.secret;
      if (previous) return Object.freeze({ ...previous, value });
    }
    this.#ruleKey = key;
    try {
      return compileSecret(rule, value);
    } catch (err) {
      // compileSecret's messages name the secret and the fault, never the value.
      return { code: 'inject_error', detail: (err as Error).message };
    }
  }
}

/** The refusal of a binding whose secret was deleted. */
export function deletedSecret(secretName: string): BindingRefusal {
  return { code: 'credential_revoked', detail: `secret ${JSON.stringify(secretName)} was deleted` };
}
