import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { loadOrCreateCa, type CertificateAuthority } from './ca.js';
import { writeCaBundle } from './ca-bundle.js';
import { LeafCertStore, type CertLookupResult, type CertMintResult } from './leaf-certs.js';

/** What a proxy process needs from tls/: its CA, the bundle sandboxes trust, and the leaf store. */
export interface ProxyTls {
  readonly ca: CertificateAuthority;
  /** `<dataDir>/ca-bundle.pem`: system roots + the CA. */
  readonly bundlePath: string;
  /** The bundle's text, for the sandbox kit. */
  readonly bundlePem: string;
  readonly certs: LeafCertStore;
}

/**
 * The data dir (0700), the CA (loaded or generated at ca.cert / ca.key), the CA bundle written
 * into the data dir, and the leaf store; shared by the single daemon and the sidecar.
 */
export async function prepareProxyTls(
  config: { readonly dataDir: string; readonly ca: { readonly cert: string; readonly key: string } },
  options: { logger: Logger; onLookup: (result: CertLookupResult) => void; onMint?: (result: CertMintResult) => void },
): Promise<ProxyTls> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const ca = await loadOrCreateCa({ certPath: config.ca.cert, keyPath: config.ca.key, logger: options.logger });
  const bundlePath = join(config.dataDir, 'ca-bundle.pem');
  const bundlePem = await writeCaBundle(ca.certPem, bundlePath);
  return { ca, bundlePath, bundlePem, certs: await LeafCertStore.create(ca, { onLookup: options.onLookup, onMint: options.onMint }) };
}
