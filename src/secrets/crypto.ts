import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { assertOwnerOnly, readOrCreateKeyFile } from './key-files.js';
import { SecretValue } from './secret-value.js';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface MasterKeyConfig {
  readonly dataDir: string;
  /** Base64 of 32 bytes; when absent the key lives in `<dataDir>/master.key`. */
  readonly masterKey?: string | undefined;
}

/**
 * The key that encrypts secret values at rest: `masterKey` when configured, else
 * `<dataDir>/master.key` (base64, mode 0600, refused when group or others can read it), generated on first start. Losing it loses every
 * stored secret, so an existing file that does not hold a valid key is an error, never replaced.
 */
export function loadOrCreateMasterKey(config: MasterKeyConfig): Buffer {
  if (config.masterKey !== undefined) return decodeKey(config.masterKey, 'masterKey');
  const path = join(config.dataDir, 'master.key');
  const text = readOrCreateKeyFile(path, () => randomBytes(KEY_BYTES).toString('base64'));
  assertOwnerOnly(path, 'masterKey');
  return decodeKey(text, 'masterKey', `${path} `);
}

function decodeKey(text: string, key: string, where = ''): Buffer {
  const bytes = Buffer.from(text.trim(), 'base64');
  if (bytes.length !== KEY_BYTES) {
    throw new ConfigError(key, `${where}must be the base64 encoding of exactly ${KEY_BYTES} bytes`);
  }
  return bytes;
}

/** Thrown when a stored value cannot be decrypted; its message never contains the value. */
export class SecretDecryptError extends Error {
  readonly code = 'secret_decrypt_failed';

  constructor() {
    super('secret value could not be decrypted: wrong master key or tampered data');
    this.name = 'SecretDecryptError';
  }
}

/**
 * AES-256-GCM for secret values. Each seal uses a fresh random 96-bit nonce; the blob is
 * `nonce | tag | ciphertext`. The AAD (the secret's id) binds a blob to its row, so a
 * ciphertext copied onto another secret fails to open.
 */
export class SecretCipher {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new RangeError(`master key must be ${KEY_BYTES} bytes`);
    this.#key = Buffer.from(key);
  }

  seal(plaintext: string, aad: string): Buffer {
    return this.sealBytes(Buffer.from(plaintext, 'utf8'), aad);
  }

  open(blob: Buffer, aad: string): SecretValue {
    const plain = this.openBytes(blob, aad);
    const value = new SecretValue(plain.toString('utf8'));
    plain.fill(0);
    return value;
  }

  /** seal() for bytes, e.g. a data key (secrets/envelope.ts). */
  sealBytes(plaintext: Buffer, aad: string): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#key, nonce);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([nonce, cipher.getAuthTag(), body]);
  }

  /** open() for bytes; the caller zeroes the result when done. */
  openBytes(blob: Buffer, aad: string): Buffer {
    if (blob.length < NONCE_BYTES + TAG_BYTES) throw new SecretDecryptError();
    const decipher = createDecipheriv(ALGORITHM, this.#key, blob.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(blob.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(blob.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new SecretDecryptError();
    }
  }
}
