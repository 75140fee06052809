import { X509Certificate, createHash, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/*
 * X.509 encoding: node-forge builds the TBSCertificate (names, validity, extensions); Node's crypto
 * supplies the key bytes and the signature. forge's own RSA signing is pure JS (24–42 ms per
 * certificate, blocking the loop) and it cannot encode EC keys at all, so the SubjectPublicKeyInfo and
 * the signature algorithm are spliced into forge's ASN.1 tree here.
 */

const { asn1, pki } = forge;
type Asn1 = forge.asn1.Asn1;

// Members of forge missing from @types/node-forge (both exist in node-forge 1.x).
const getTBSCertificate = (pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): Asn1 }).getTBSCertificate;
const fromDer = asn1.fromDer as unknown as (der: string, options: { decodeBitStrings: boolean }) => Asn1;

/** Positions in TBSCertificate (RFC 5280 §4.1) with the explicit version field present. */
const TBS_SIGNATURE = 2;
const TBS_ISSUER = 3;
const TBS_SUBJECT = 5;
const TBS_PUBLIC_KEY = 6;

/** @types/node-forge mistypes valueTagClass as a tag class; forge reads it as a universal type. */
const UTF8_STRING = asn1.Type.UTF8 as unknown as forge.asn1.Class;

/**
 * getTBSCertificate always encodes `cert.publicKey` as RSA; this stand-in lets it run, and its
 * output is replaced by the real SubjectPublicKeyInfo at TBS_PUBLIC_KEY.
 */
const PLACEHOLDER_KEY = pki.setRsaPublicKey(forge.jsbn.BigInteger.ONE, forge.jsbn.BigInteger.ONE);

interface SignatureAlgorithm {
  oid: string;
  /** Digest for crypto.sign; null for Ed25519, which hashes internally. */
  hash: string | null;
  /** RFC 5758 forbids parameters for ECDSA/EdDSA; RFC 4055 requires NULL for RSA PKCS#1 v1.5. */
  nullParams: boolean;
}

const ECDSA_BY_CURVE: Record<string, SignatureAlgorithm> = {
  prime256v1: { oid: '1.2.840.10045.4.3.2', hash: 'sha256', nullParams: false },
  secp384r1: { oid: '1.2.840.10045.4.3.3', hash: 'sha384', nullParams: false },
  secp521r1: { oid: '1.2.840.10045.4.3.4', hash: 'sha512', nullParams: false },
};
const SHA256_WITH_RSA: SignatureAlgorithm = { oid: '1.2.840.113549.1.1.11', hash: 'sha256', nullParams: true };
const ED25519: SignatureAlgorithm = { oid: '1.3.101.112', hash: null, nullParams: false };

/** The algorithm a private key signs certificates with, or undefined when credproxy cannot use it. */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm | undefined {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return ECDSA_BY_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ''];
    case 'rsa':
      return SHA256_WITH_RSA;
    case 'ed25519':
      return ED25519;
    default:
      return undefined;
  }
}

/** A public key ready to be placed in certificates. */
export interface SubjectKey {
  /** SubjectPublicKeyInfo as produced by OpenSSL. */
  readonly spki: Asn1;
  /** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (binary string). */
  readonly keyIdentifier: string;
}

/** Encodes a key (public, or the public half of a private key) once, for any number of certificates. */
export function describeSubjectKey(key: KeyObject): SubjectKey {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const spki = fromDer(der.toString('binary'), { decodeBitStrings: false });
  const bits = childAt(spki, 1).value as string; // first byte is the unused-bits count
  const keyIdentifier = createHash('sha1')
    .update(Buffer.from(bits.slice(1), 'binary'))
    .digest('binary');
  return { spki, keyIdentifier };
}

/** What a leaf needs from its issuing CA certificate. */
export interface IssuerInfo {
  /** The CA's subject Name exactly as encoded, so issuer/subject match byte for byte. */
  readonly name: Asn1;
  /** The CA's subjectKeyIdentifier (or one derived from its key), for the leaf's AKI. */
  readonly keyIdentifier: string;
  readonly notAfter: Date;
}

/** Reads the issuer fields from a CA certificate; forge cannot parse EC certificates, so this walks the ASN.1. */
export function describeIssuer(certPem: string): IssuerInfo {
  const x509 = new X509Certificate(certPem);
  const tbs = childAt(fromDer(x509.raw.toString('binary'), { decodeBitStrings: false }), 0);
  // Without the explicit version field (X.509 v1) there are no extensions and every index shifts.
  if (childAt(tbs, 0).tagClass !== asn1.Class.CONTEXT_SPECIFIC) throw new Error('not an X.509 v3 certificate');
  return {
    name: childAt(tbs, TBS_SUBJECT),
    keyIdentifier: findSubjectKeyIdentifier(tbs) ?? describeSubjectKey(x509.publicKey).keyIdentifier,
    notAfter: new Date(x509.validTo),
  };
}

const SKI_OID = '2.5.29.14';

function findSubjectKeyIdentifier(tbs: Asn1): string | undefined {
  const container = (tbs.value as Asn1[]).find((n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 3);
  const extensions = container ? (childAt(container, 0).value as Asn1[]) : [];
  for (const ext of extensions) {
    if (asn1.derToOid(childAt(ext, 0).value as string) !== SKI_OID) continue;
    const octets = (ext.value as Asn1[]).at(-1)?.value as string;
    return fromDer(octets, { decodeBitStrings: false }).value as string;
  }
  return undefined;
}

/**
 * subjectKeyIdentifier and authorityKeyIdentifier (RFC 5280 §4.2.1.1–2), which strict verifiers
 * (OpenSSL 3 X509_V_FLAG_X509_STRICT, Python's VERIFY_X509_STRICT) require to build the chain.
 */
export function keyIdentifierExtensions(subject: SubjectKey, authorityKeyIdentifier: string): object[] {
  return [
    { name: 'subjectKeyIdentifier', value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, subject.keyIdentifier) },
    { name: 'authorityKeyIdentifier', keyIdentifier: authorityKeyIdentifier },
  ];
}

/** Everything that differs between the CA certificate and a leaf. */
export interface CertificateSpec {
  /** Subject attributes, e.g. [{ shortName: 'CN', value: 'example.com' }]; encoded as UTF8String. */
  subject: forge.pki.CertificateField[];
  /** The issuing CA; omitted for a self-signed certificate (issuer = subject). */
  issuer?: IssuerInfo;
  subjectKey: SubjectKey;
  signingKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** forge extension objects (name, critical, fields). */
  extensions: object[];
}

/**
 * Builds and signs a certificate, returning it as PEM. The signature runs on the libuv pool
 * (crypto.sign with a callback); the synchronous part is forge's ASN.1 work only.
 */
export async function buildCertificate(spec: CertificateSpec): Promise<string> {
  const algorithm = signatureAlgorithmFor(spec.signingKey);
  if (!algorithm) throw new Error(`cannot sign certificates with a ${spec.signingKey.asymmetricKeyType} key`);

  const cert = pki.createCertificate();
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  // UTF8String rather than forge's PrintableString default, which cannot hold '_' or '*'.
  const subject = spec.subject.map((field) => ({ ...field, valueTagClass: UTF8_STRING }));
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.publicKey = PLACEHOLDER_KEY;
  cert.siginfo.algorithmOid = algorithm.oid;
  cert.setExtensions(spec.extensions);

  const tbs = getTBSCertificate(cert);
  const fields = tbs.value as Asn1[];
  fields[TBS_SIGNATURE] = algorithmIdentifier(algorithm);
  if (spec.issuer) fields[TBS_ISSUER] = spec.issuer.name;
  fields[TBS_PUBLIC_KEY] = spec.subjectKey.spki;

  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  const signature = await signAsync(algorithm.hash, tbsDer, spec.signingKey);
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algorithmIdentifier(algorithm),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\x00' + signature.toString('binary')),
  ]);
  return toPem(Buffer.from(asn1.toDer(certificate).getBytes(), 'binary'));
}

function algorithmIdentifier(algorithm: SignatureAlgorithm): Asn1 {
  const parts = [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(algorithm.oid).getBytes())];
  if (algorithm.nullParams) parts.push(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''));
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, parts);
}

/**
 * 128 random bits as a positive INTEGER in minimal DER: the first byte is non-zero with the top
 * bit clear, so no sign padding is needed and strict parsers accept it.
 */
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function signAsync(hash: string | null, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign(hash, data, key, (err, signature) => (err ? reject(err) : resolve(signature)));
  });
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function childAt(node: Asn1, index: number): Asn1 {
  const child = Array.isArray(node.value) ? node.value[index] : undefined;
  if (!child) throw new Error('malformed certificate structure');
  return child;
}
