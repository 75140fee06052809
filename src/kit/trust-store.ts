import { createHmac, randomBytes } from 'node:crypto';
import forge from 'node-forge';

const { asn1, pki } = forge;
/** Oracle's trustedKeyUsage bag attribute: the JDK loads a certificate bag without a key as a trusted entry only with it. */
const ORACLE_TRUSTED_KEY_USAGE = '2.16.840.1.113894.746875.1.1';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';
const MAC_ITERATIONS = 2048;

/**
 * A PKCS#12 trust store holding `pems` as trusted certificates (what `keytool -importcert` writes),
 * for Java's `javax.net.ssl.trustStore`. The certificates are stored unencrypted (they are public);
 * the password only keys the integrity MAC (HMAC-SHA1, as keytool's default up to JDK 21). The
 * certificates are never parsed: each PEM's DER goes into its bag as is.
 */
export function buildTrustStore(pems: readonly string[], password: string): Buffer {
  const bags = pems.map((pem, i) => certBag(pemToDer(pem), `credproxy-${i}`));
  const safeContents = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, bags);
  const authSafe = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [dataContentInfo(asn1.toDer(safeContents).getBytes())]);
  const authSafeDer = asn1.toDer(authSafe).getBytes();
  const pfx = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(3).getBytes()),
    dataContentInfo(authSafeDer),
    macData(authSafeDer, password),
  ]);
  return Buffer.from(asn1.toDer(pfx).getBytes(), 'binary');
}

function certBag(der: string, alias: string): forge.asn1.Asn1 {
  const attribute = (oid: string, value: forge.asn1.Asn1) =>
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [value]),
    ]);
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(pki.oids.certBag!).getBytes()),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(pki.oids.x509Certificate!).getBytes()),
        asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, der)]),
      ]),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
      attribute(pki.oids.friendlyName!, asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BMPSTRING, false, alias)),
      attribute(ORACLE_TRUSTED_KEY_USAGE, asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(ANY_EXTENDED_KEY_USAGE).getBytes())),
    ]),
  ]);
}

function dataContentInfo(content: string): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(pki.oids.data!).getBytes()),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, content)]),
  ]);
}

function macData(authSafeDer: string, password: string): forge.asn1.Asn1 {
  const salt = randomBytes(20).toString('binary');
  const key = forge.pkcs12.generateKey(password, forge.util.createBuffer(salt), 3, MAC_ITERATIONS, 20).getBytes();
  const mac = createHmac('sha1', Buffer.from(key, 'binary')).update(Buffer.from(authSafeDer, 'binary')).digest('binary');
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(pki.oids.sha1!).getBytes()),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
      ]),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, mac),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, salt),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(MAC_ITERATIONS).getBytes()),
  ]);
}

/** The DER of a PEM certificate as a binary string (base64 between the armour lines). */
function pemToDer(pem: string): string {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64').toString('binary');
}
