import { generateKeyPair, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';
import { LRUCache } from 'lru-cache';
import type { CertificateAuthority } from './ca.js';
import { ipAddressBytes, normaliseServerName } from './host-name.js';
import { buildCertificate, describeIssuer, describeSubjectKey, keyIdentifierExtensions, type IssuerInfo, type SubjectKey } from './x509.js';

const generateKeyPairAsync = promisify(generateKeyPair);

const DAY_MS = 24 * 3600_000;
/** Tolerates clocks in sandboxes that run a little behind the daemon's. */
const BACKDATE_MS = 3600_000;
/** A cached leaf is re-minted once it is this close to expiry, so no client ever sees it expire. */
const RENEW_BEFORE_MS = DAY_MS;
/** X.520 upper bound for commonName; longer names live in the SAN only. */
const MAX_COMMON_NAME = 64;

/** How a secureContextFor lookup was served; the proxy maps it to the `certCache` event. */
export type CertLookupResult = 'hit' | 'miss' | 'coalesced';

/**
 * How a mint ended: its duration, or why there is no certificate (a server name that cannot be
 * one, or a signing failure). The daemon maps it to the `certMint` event.
 */
export type CertMintResult = { readonly ms: number } | { readonly error: 'invalid_name' | 'failed' };

export interface LeafCertStoreOptions {
  /** Host names kept in the cache (least recently used evicted). Default 1000. */
  maxHosts?: number;
  /** Leaf validity in days, 2–397 (the CA/Browser Forum maximum). Default 30. */
  validityDays?: number;
  /** Called once per lookup; must not throw. */
  onLookup?: (result: CertLookupResult) => void;
  /** Called once per mint (and per invalid name); must not throw. */
  onMint?: (result: CertMintResult) => void;
  /** Clock in ms since the epoch, for tests of expiry. Default Date.now. */
  now?: () => number;
}

interface CachedLeaf {
  readonly context: SecureContext;
  /** When the entry stops being served from cache. */
  readonly renewAt: number;
}

type SniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;

/**
 * Per-host leaf certificates signed by the CA, all sharing ONE ECDSA P-256 key generated at
 * creation (as mockttp does): minting then costs one CA signature and no key generation, and the
 * key never leaves memory. Contexts are cached in a bounded LRU until a day before expiry; a cached
 * lookup returns synchronously, and concurrent first lookups for a host share one mint.
 */
export class LeafCertStore {
  readonly #issuer: IssuerInfo;
  readonly #caPem: string;
  readonly #caKey: KeyObject;
  readonly #leafKey: SubjectKey;
  readonly #leafKeyPem: string;
  readonly #validityMs: number;
  readonly #onLookup: ((result: CertLookupResult) => void) | undefined;
  readonly #onMint: ((result: CertMintResult) => void) | undefined;
  readonly #now: () => number;
  readonly #cache: LRUCache<string, CachedLeaf>;
  readonly #minting = new Map<string, Promise<SecureContext>>();

  private constructor(ca: CertificateAuthority, leafKey: KeyObject, options: LeafCertStoreOptions) {
    this.#issuer = describeIssuer(ca.certPem);
    this.#caPem = ca.certPem;
    this.#caKey = ca.signingKey;
    this.#leafKey = describeSubjectKey(leafKey);
    this.#leafKeyPem = leafKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    this.#validityMs = (options.validityDays ?? 30) * DAY_MS;
    this.#onLookup = options.onLookup;
    this.#onMint = options.onMint;
    this.#now = options.now ?? Date.now;
    this.#cache = new LRUCache({ max: options.maxHosts ?? 1000 });
  }

  /** Generates the shared leaf key (off the event loop) and returns a ready store. */
  static async create(ca: CertificateAuthority, options: LeafCertStoreOptions = {}): Promise<LeafCertStore> {
    const { maxHosts = 1000, validityDays = 30 } = options;
    if (!Number.isInteger(maxHosts) || maxHosts < 1) throw new RangeError(`maxHosts must be a positive integer, got ${maxHosts}`);
    if (!Number.isInteger(validityDays) || validityDays < 2 || validityDays > 397) {
      throw new RangeError(`validityDays must be an integer from 2 to 397, got ${validityDays}`);
    }
    const { privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
    return new LeafCertStore(ca, privateKey, options);
  }

  /**
   * SecureContext (leaf + CA chain, shared key) for a host name or IP literal: returned directly
   * when cached, a promise while minting. Invalid names give a rejected promise, never a throw.
   */
  secureContextFor(name: string): SecureContext | Promise<SecureContext> {
    const key = normaliseServerName(name);
    if (key === undefined) {
      this.#onMint?.({ error: 'invalid_name' });
      return Promise.reject(new Error(`no certificate for invalid server name ${JSON.stringify(name.slice(0, 80))}`));
    }
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.renewAt > this.#now()) {
      this.#onLookup?.('hit');
      return cached.context;
    }
    const pending = this.#minting.get(key);
    if (pending !== undefined) {
      this.#onLookup?.('coalesced');
      return pending;
    }
    this.#onLookup?.('miss');
    const started = performance.now();
    const minted = this.#mint(key)
      .then(
        (context) => {
          this.#onMint?.({ ms: performance.now() - started });
          return context;
        },
        (err: unknown) => {
          this.#onMint?.({ error: 'failed' });
          throw err;
        },
      )
      .finally(() => this.#minting.delete(key));
    this.#minting.set(key, minted);
    return minted;
  }

  /** Ready-made SNICallback for tls servers and TLSSocket options. */
  readonly sniCallback: SniCallback = (servername, cb) => {
    let result: SecureContext | Promise<SecureContext>;
    try {
      result = this.secureContextFor(servername);
    } catch (err) {
      // Only a throwing onLookup can land here; a throw would escape into Node's TLS internals.
      cb(err as Error);
      return;
    }
    if (result instanceof Promise)
      result.then(
        (ctx) => cb(null, ctx),
        (err: Error) => cb(err),
      );
    else cb(null, result);
  };

  async #mint(name: string): Promise<SecureContext> {
    const now = this.#now();
    // A leaf outliving its CA would only fail later with a less obvious error.
    const notAfter = Math.min(now + this.#validityMs, this.#issuer.notAfter.getTime());
    const ip = isIP(name) !== 0;
    const pem = await buildCertificate({
      subject: [...(name.length <= MAX_COMMON_NAME ? [{ shortName: 'CN', value: name }] : []), { shortName: 'O', value: 'credproxy' }],
      issuer: this.#issuer,
      subjectKey: this.#leafKey,
      signingKey: this.#caKey,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(notAfter),
      extensions: [
        { name: 'basicConstraints', critical: true, cA: false },
        { name: 'keyUsage', critical: true, digitalSignature: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [ip ? { type: 7, value: ipAddressBytes(name) } : { type: 2, value: name }] },
        ...keyIdentifierExtensions(this.#leafKey, this.#issuer.keyIdentifier),
      ],
    });
    const context = createSecureContext({ cert: pem + this.#caPem, key: this.#leafKeyPem });
    this.#cache.set(name, { context, renewAt: notAfter - RENEW_BEFORE_MS });
    return context;
  }
}
