import type { RejectionCode } from '../errors.js';
import type { CompiledSecret } from './compiled-secret.js';
import { EchoForms } from './echo-forms.js';
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
 * One stand-in of one sandbox, compiled: a live binding has its secret and a matcher for the
 * secret's shapes; a revoked or unusable one only a refusal, answered when its stand-in shows up.
 */
export class CompiledBinding {
  readonly id: number;
  readonly envKey: string;
  readonly standIn: string;
  readonly secretName: string;
  /** Undefined once the secret was deleted. */
  readonly secretId: string | undefined;
  readonly secret: CompiledSecret | undefined;
  readonly matcher: StandInMatcher | undefined;
  readonly refusal: BindingRefusal | undefined;
  #valueForms: EchoForms | undefined;
  #basicForms: Map<string, EchoForms> | undefined;

  private constructor(record: BindingRecord, secret: CompiledSecret | undefined, refusal: BindingRefusal | undefined) {
    this.id = record.id;
    this.envKey = record.envKey;
    this.standIn = record.standIn;
    this.secretName = record.secretName;
    this.secretId = record.secretId ?? undefined;
    this.secret = secret;
    this.refusal = refusal;
    this.matcher = secret && !refusal ? compileStandInMatcher(secret.shapes, record.standIn) : undefined;
  }

  static live(record: BindingRecord, secret: CompiledSecret): CompiledBinding {
    return new CompiledBinding(record, secret, undefined);
  }

  static refused(record: BindingRecord, refusal: BindingRefusal): CompiledBinding {
    return new CompiledBinding(record, undefined, refusal);
  }

  /** Echo forms of the real value, built on first injection and kept with the binding. */
  valueForms(real: string): EchoForms {
    return (this.#valueForms ??= EchoForms.forValue(real, this.standIn));
  }

  /** Echo forms of an injected Basic header for one username. */
  basicForms(username: string, real: string): EchoForms {
    const cached = this.#basicForms?.get(username);
    if (cached) return cached;
    const forms = EchoForms.forBasic(username, real, this.standIn);
    this.#basicForms ??= new Map();
    if (this.#basicForms.size < BASIC_FORMS_CACHE) this.#basicForms.set(username, forms);
    return forms;
  }
}
