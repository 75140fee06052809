import { X509Certificate, createPrivateKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { ConfigError, describeSystemError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { assertOwnerOnly } from '../secrets/key-files.js';
import { writeFileAtomic } from './atomic-write.js';
import { buildCertificate, describeIssuer, describeSubjectKey, keyIdentifierExtensions, signatureAlgorithmFor } from './x509.js';

const generateKeyPairAsync = promisify(generateKeyPair);

const CA_VALIDITY_MS = 3650 * 24 * 3600_000;
/** Tolerates clocks in sandboxes that run a little behind the daemon's. */
const BACKDATE_MS = 3600_000;

/** credproxy's certificate authority: the PEM sandboxes trust and the key that signs leaves. */
export interface CertificateAuthority {
  readonly certPem: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** For signing leaves; never logged. */
  readonly signingKey: KeyObject;
}

export interface LoadCaOptions {
  /** CA certificate PEM (config `ca.cert`). */
  certPath: string;
  /** CA private key PEM, mode 0600 (config `ca.key`); refused when group or others can read it. */
  keyPath: string;
  logger?: Logger;
}

/**
 * Loads the CA from `certPath`/`keyPath`, or creates it on first start: an ECDSA P-256 key (written
 * first, 0600, atomically) and a 10-year self-signed certificate. A key left without its certificate
 * (a crash between the two writes) gets a new certificate. Throws ConfigError naming `ca.cert` or
 * `ca.key` when the files exist but cannot be used together; never overwrites them.
 */
export async function loadOrCreateCa(options: LoadCaOptions): Promise<CertificateAuthority> {
  const certText = await readOptional(options.certPath, 'ca.cert');
  if (certText !== undefined) return loadCa(certText, options);

  const keyText = await readOptional(options.keyPath, 'ca.key');
  if (keyText !== undefined) assertOwnerOnly(options.keyPath, 'ca.key');
  const signingKey = keyText === undefined ? await generateCaKey(options) : parseKey(keyText, options.keyPath);
  const certPem = await createCaCertificate(signingKey);
  await writeFileAtomic(options.certPath, certPem, 0o644);
  options.logger?.info({ cert: options.certPath, key: options.keyPath, reusedKey: keyText !== undefined }, 'generated CA certificate');
  return Object.freeze({ certPem, certPath: options.certPath, keyPath: options.keyPath, signingKey });
}

async function loadCa(certText: string, options: LoadCaOptions): Promise<CertificateAuthority> {
  const { certPath, keyPath } = options;
  const x509 = parseCertificate(certText, certPath);
  const keyText = await readOptional(keyPath, 'ca.key');
  if (keyText === undefined) {
    throw new ConfigError(
      'ca.key',
      `${keyPath} is missing but ${certPath} exists; restore the CA key, or delete both files to generate a new CA (sandboxes must then trust the new one)`,
    );
  }
  const signingKey = parseKey(keyText, keyPath);
  if (!x509.checkPrivateKey(signingKey)) {
    throw new ConfigError(
      'ca.key',
      `${keyPath} does not match the certificate in ${certPath}; restore the matching key, or delete both files to generate a new CA`,
    );
  }
  assertOwnerOnly(keyPath, 'ca.key');
  return Object.freeze({ certPem: x509.toString(), certPath, keyPath, signingKey });
}

function parseCertificate(text: string, certPath: string): X509Certificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(text);
    describeIssuer(text);
  } catch {
    throw new ConfigError('ca.cert', `${certPath} is not a PEM X.509 v3 certificate`);
  }
  if (!x509.ca) throw new ConfigError('ca.cert', `${certPath} is not a CA certificate (needs basicConstraints CA:TRUE)`);
  if (new Date(x509.validTo).getTime() <= Date.now()) {
    throw new ConfigError('ca.cert', `${certPath} expired on ${x509.validTo}; delete it and ca.key to generate a new CA`);
  }
  return x509;
}

function parseKey(text: string, keyPath: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch (err) {
    // Only the error code is used: OpenSSL messages are safe, but a key file's content must never reach a message.
    const encrypted = (err as { code?: string }).code === 'ERR_MISSING_PASSPHRASE';
    throw new ConfigError(
      'ca.key',
      encrypted ? `${keyPath} is encrypted; credproxy needs an unencrypted PEM key (mode 0600)` : `${keyPath} is not a PEM private key`,
    );
  }
  if (!signatureAlgorithmFor(key)) {
    throw new ConfigError('ca.key', `${keyPath} holds a ${key.asymmetricKeyType} key; use ECDSA (P-256/384/521), RSA or Ed25519`);
  }
  return key;
}

async function generateCaKey(options: LoadCaOptions): Promise<KeyObject> {
  const { privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  await writeFileAtomic(options.keyPath, pem, 0o600);
  return privateKey;
}

function createCaCertificate(signingKey: KeyObject): Promise<string> {
  const subjectKey = describeSubjectKey(signingKey);
  const now = Date.now();
  return buildCertificate({
    // A per-install suffix keeps two credproxy CAs apart in a trust store, where issuers are looked up by name.
    subject: [
      { shortName: 'CN', value: `credproxy CA ${randomBytes(4).toString('hex')}` },
      { shortName: 'O', value: 'credproxy' },
    ],
    subjectKey,
    signingKey,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + CA_VALIDITY_MS),
    extensions: [
      // pathlen 0: this CA signs leaves only, never another CA.
      { name: 'basicConstraints', critical: true, cA: true, pathLenConstraint: 0 },
      { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
      ...keyIdentifierExtensions(subjectKey, subjectKey.keyIdentifier),
    ],
  });
}

async function readOptional(path: string, key: 'ca.cert' | 'ca.key'): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(key, `cannot read ${path}: ${describeSystemError(err as NodeJS.ErrnoException)}`);
  }
}
