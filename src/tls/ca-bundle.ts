import { rootCertificates } from 'node:tls';
import { writeFileAtomic } from './atomic-write.js';

/**
 * Writes the trust bundle sandboxes point NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE,
 * CURL_CA_BUNDLE and GIT_SSL_CAINFO at: Node's bundled roots followed by credproxy's CA, atomically,
 * mode 0644 (it holds no secret, and tools inside the sandbox run as other users). Returns its text.
 */
export async function writeCaBundle(caCertPem: string, bundlePath: string): Promise<string> {
  const bundle = `${[...rootCertificates, caCertPem.trim()].join('\n')}\n`;
  await writeFileAtomic(bundlePath, bundle, 0o644);
  return bundle;
}
