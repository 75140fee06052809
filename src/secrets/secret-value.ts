import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A real credential. It prints, serialises and inspects as `[redacted]`; the only way to the
 * text is `reveal()`, which the injection step calls while it builds the outgoing header.
 */
export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  /** Byte length of the UTF-8 text, for validation messages that must not show the value. */
  get byteLength(): number {
    return Buffer.byteLength(this.#value, 'utf8');
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
