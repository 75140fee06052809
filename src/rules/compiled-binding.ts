import type { RejectionCode } from '../errors.js';
import { EchoForms } from '../response/index.js';
import type { CompiledSecret } from './compiled-secret.js';
import type { SecretSlot } from './secret-slot.js';
import type { BindingRecord } from './source.js';
import { compileStandInMatcher, type StandInMatcher } from './stand-in-matcher.js';

/** Basic echo forms kept per binding for this many distinct client usernames. */
const BASIC_FORMS_CACHE = 8;

/** Why a binding's stand-in is refused instead of swapped. */
export interface BindingRefusal {
  readonly code: Extract<RejectionCode, 'credential_revoked' | 'proxy_token_revoked' | 'inject_error'>;
  readonly detail: string;
}

/**
 * One stand-in of one sandbox, compiled. A binding still attached reads its secret through the
 * secret's shared slot, so a rotation or a deletion of the secret reaches it without recompiling
 * it; a detached binding only has its refusal, answered when its stand-in shows up.
 */
export class CompiledBinding {
  readonly id: number;
  readonly envKey: string;
  readonly standIn: string;
  readonly secretName: string;
  /** Kept after the secret was deleted, for the audit rows of its refused stand-ins. */
  readonly secretId: string | undefined;
  /** Its own refusal (detached), which no change to the secret lifts. */
  readonly #ownRefusal: BindingRefusal | undefined;
  readonly #slot: SecretSlot | undefined;
  #matcher: StandInMatcher | undefined;
  /** The shapes `#matcher` was compiled for: a secret's rules change only with a new shapes array. */
  #matcherShapes: CompiledSecret['shapes'] | undefined;
  /** The real value the echo forms below were built for. */
  #formsFor: string | undefined;
  #valueForms: EchoForms | undefined;
  #basicForms: Map<string, EchoForms> | undefined;

  private constructor(record: BindingRecord, slot: SecretSlot | undefined, refusal: BindingRefusal | undefined) {
    this.id = record.id;
    this.envKey = record.envKey;
    this.standIn = record.standIn;
    this.secretName = record.secretName;
    this.secretId = record.secretId ?? undefined;
    this.#slot = slot;
    this.#ownRefusal = refusal;
    // Compiled with the binding, not on its first request; again only if the secret's rules change.
    const shapes = slot?.secret?.shapes;
    if (shapes) this.#compileMatcher(shapes);
  }

  /** A binding still attached, reading its secret through `slot`. */
  static attached(record: BindingRecord, slot: SecretSlot): CompiledBinding {
    return new CompiledBinding(record, slot, undefined);
  }

  static refused(record: BindingRecord, refusal: BindingRefusal): CompiledBinding {
    return new CompiledBinding(record, undefined, refusal);
  }

  /** The secret to inject; undefined once detached, deleted or unusable. */
  get secret(): CompiledSecret | undefined {
    return this.#slot?.secret;
  }

  get refusal(): BindingRefusal | undefined {
    return this.#ownRefusal ?? this.#slot?.refusal;
  }

  /** Finds this stand-in in its secret's shapes; undefined when it has no secret to inject. */
  get matcher(): StandInMatcher | undefined {
    const shapes = this.secret?.shapes;
    if (shapes === undefined) return undefined;
    return shapes === this.#matcherShapes ? this.#matcher : this.#compileMatcher(shapes);
  }

  /** Echo forms of the real value, built on its first injection and kept until it is rotated. */
  valueForms(real: string): EchoForms {
    this.#forget(real);
    return (this.#valueForms ??= EchoForms.forValue(real, this.standIn));
  }

  /** Echo forms of an injected Basic header for one username. */
  basicForms(username: string, real: string): EchoForms {
    this.#forget(real);
    const cached = this.#basicForms?.get(username);
    if (cached) return cached;
    const forms = EchoForms.forBasic(username, real, this.standIn);
    this.#basicForms ??= new Map();
    if (this.#basicForms.size < BASIC_FORMS_CACHE) this.#basicForms.set(username, forms);
    return forms;
  }

  #compileMatcher(shapes: CompiledSecret['shapes']): StandInMatcher {
    this.#matcherShapes = shapes;
    return (this.#matcher = compileStandInMatcher(shapes, this.standIn));
  }

  /** Drops the echo forms of a value that was rotated away. */
  #forget(real: string): void {
    if (this.#formsFor === real) return;
    this.#formsFor = real;
    this.#valueForms = undefined;
    this.#basicForms = undefined;
  }
}
