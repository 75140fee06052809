import { randomBytes } from 'node:crypto';
import type { ProviderShortcut } from './providers.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64URL = `${ALNUM}-_`;

/** Prefix of stand-ins for custom secrets (no provider), distinct from every provider prefix. */
export const CUSTOM_STAND_IN_PREFIX = 'cps_';
/** 43 base64url characters = 258 bits. */
export const CUSTOM_STAND_IN_LENGTH = 43;

/**
 * `length` characters drawn uniformly from `alphabet` (at most 256 symbols) with a CSPRNG.
 * Bytes at or above the largest multiple of the alphabet size are discarded, so there is no
 * modulo bias; with 62 symbols 3 % of bytes are discarded and one refill almost always suffices.
 */
function randomString(alphabet: string, length: number): string {
  const size = alphabet.length;
  const limit = 256 - (256 % size);
  let out = '';
  while (out.length < length) {
    const bytes = randomBytes(Math.ceil((length - out.length) * 1.25) + 8);
    for (const byte of bytes) {
      if (byte >= limit) continue;
      out += alphabet[byte % size];
      if (out.length === length) break;
    }
  }
  return out;
}

/**
 * A fresh stand-in token: the provider's prefix and body shape, or for a custom secret
 * `cps_` + 43 base64url characters.
 */
export function mintStandIn(provider: ProviderShortcut | undefined): string {
  if (!provider) return CUSTOM_STAND_IN_PREFIX + randomString(B64URL, CUSTOM_STAND_IN_LENGTH);
  const { prefix, length, alphabet } = provider.standIn;
  return prefix + randomString(alphabet === 'alnum' ? ALNUM : B64URL, length);
}

/** A sandbox access token: 32 random bytes as base64url (43 characters of `[A-Za-z0-9_-]`, 256 bits). */
export function mintAccessToken(): string {
  return randomBytes(32).toString('base64url');
}
