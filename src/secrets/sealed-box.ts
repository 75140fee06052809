import { createCipheriv, createDecipheriv, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

/**
 * Public-key sealing for what the control plane sends a sidecar (its bundle and updates):
 * X25519 with a fresh ephemeral key per message, HKDF-SHA256, AES-256-GCM. Only the holder of the
 * private key opens it, so neither the network nor a proxy in between sees a value in clear.
 * Layout: ephemeral public key (SPKI DER, 44 bytes) | nonce (12) | tag (16) | ciphertext.
 */

const SPKI_BYTES = 44;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const INFO = Buffer.from('credproxy sealed-box v1');

/** Thrown for a blob that is not sealed to this key or was altered. Never carries content. */
export class SealedBoxError extends Error {
  readonly code = 'sealed_box_invalid';

  constructor() {
    super('sealed message could not be opened: not for this key, or altered');
    this.name = 'SealedBoxError';
  }
}

/** A sidecar's key pair; the private key never leaves the process's memory. */
export class SealedBoxKeyPair {
  readonly #privateKey: KeyObject;
  /** Base64 of the SPKI DER public key, as sent to the control plane. */
  readonly publicKey: string;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('x25519');
    this.#privateKey = privateKey;
    this.publicKey = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  }

  open(blob: Buffer): Buffer {
    if (blob.length < SPKI_BYTES + NONCE_BYTES + TAG_BYTES) throw new SealedBoxError();
    try {
      const ephemeral = blob.subarray(0, SPKI_BYTES);
      const key = deriveKey(this.#privateKey, importPublicKey(ephemeral), ephemeral, Buffer.from(this.publicKey, 'base64'));
      const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(SPKI_BYTES, SPKI_BYTES + NONCE_BYTES));
      decipher.setAuthTag(blob.subarray(SPKI_BYTES + NONCE_BYTES, SPKI_BYTES + NONCE_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(blob.subarray(SPKI_BYTES + NONCE_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new SealedBoxError();
    }
  }
}

/** True when `text` is a base64 X25519 public key in SPKI DER form. */
export function isSealedBoxPublicKey(text: string): boolean {
  try {
    return importPublicKey(Buffer.from(text, 'base64')).asymmetricKeyType === 'x25519';
  } catch {
    return false;
  }
}

/** Seals `plaintext` to the holder of `recipientPublicKey` (base64 SPKI DER). */
export function sealTo(recipientPublicKey: string, plaintext: Buffer): Buffer {
  const recipientDer = Buffer.from(recipientPublicKey, 'base64');
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralDer = ephemeral.publicKey.export({ type: 'spki', format: 'der' });
  const key = deriveKey(ephemeral.privateKey, importPublicKey(recipientDer), ephemeralDer, recipientDer);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([ephemeralDer, nonce, cipher.getAuthTag(), body]);
}

function importPublicKey(der: Buffer): KeyObject {
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/** Both public keys go into the salt, so a key is bound to this exact pair. */
function deriveKey(privateKey: KeyObject, publicKey: KeyObject, ephemeralDer: Buffer, recipientDer: Buffer): Buffer {
  const shared = diffieHellman({ privateKey, publicKey });
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeralDer, recipientDer]), INFO, 32));
}
