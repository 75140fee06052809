import { randomBytes } from 'node:crypto';
import { SecretCipher } from './crypto.js';
import type { SecretValue } from './secret-value.js';

/**
 * Seals and opens data keys. The master key does it today (MasterKeyWrapper); a KMS can later, which
 * is why both calls may be asynchronous and why `keyId` is stored beside each wrapped key.
 */
export interface DataKeyWrapper {
  /** Names the key that wraps, e.g. `master:v1`; stored with each secret so a re-wrap can find old rows. */
  readonly keyId: string;
  wrap(dataKey: Buffer, aad: string): Buffer | Promise<Buffer>;
  unwrap(wrapped: Buffer, aad: string): Buffer | Promise<Buffer>;
}

/** A secret value at rest: the value under its own data key, and that key under the master key. */
export interface SealedEnvelope {
  readonly valueEnc: Buffer;
  readonly dataKeyEnc: Buffer;
  readonly keyId: string;
}

const DATA_KEY_BYTES = 32;

/** The master key (AES-256-GCM) as a DataKeyWrapper. */
export class MasterKeyWrapper implements DataKeyWrapper {
  readonly keyId = 'master:v1';
  readonly #cipher: SecretCipher;

  constructor(masterKey: Buffer) {
    this.#cipher = new SecretCipher(masterKey);
  }

  wrap(dataKey: Buffer, aad: string): Buffer {
    return this.#cipher.sealBytes(dataKey, aad);
  }

  unwrap(wrapped: Buffer, aad: string): Buffer {
    return this.#cipher.openBytes(wrapped, aad);
  }
}

/**
 * Envelope encryption for the control plane's store: each value gets a fresh 256-bit data key
 * (AES-256-GCM, AAD = the secret's id), and only the data key goes to the wrapper. Rotating the
 * master key then re-wraps 32-byte keys, never touching values, and a KMS never sees a value.
 */
export class EnvelopeCipher {
  readonly #wrapper: DataKeyWrapper;

  constructor(wrapper: DataKeyWrapper) {
    this.#wrapper = wrapper;
  }

  async seal(plaintext: string, aad: string): Promise<SealedEnvelope> {
    const dataKey = randomBytes(DATA_KEY_BYTES);
    try {
      const valueEnc = new SecretCipher(dataKey).seal(plaintext, aad);
      return { valueEnc, dataKeyEnc: await this.#wrapper.wrap(dataKey, aad), keyId: this.#wrapper.keyId };
    } finally {
      dataKey.fill(0);
    }
  }

  async open(sealed: Pick<SealedEnvelope, 'valueEnc' | 'dataKeyEnc'>, aad: string): Promise<SecretValue> {
    const dataKey = await this.#wrapper.unwrap(sealed.dataKeyEnc, aad);
    try {
      return new SecretCipher(dataKey).open(sealed.valueEnc, aad);
    } finally {
      dataKey.fill(0);
    }
  }
}
