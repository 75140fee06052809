import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeafCertStore, loadOrCreateCa, type CertificateAuthority } from '../../src/tls/index.js';

/** A throwaway CA (in a tmp dir) and its leaf store: one for the proxy, another for each test upstream. */
export interface TestPki {
  readonly dir: string;
  readonly ca: CertificateAuthority;
  /** Path of the CA certificate PEM, for curl --cacert and upstream.caFile. */
  readonly caPath: string;
  readonly certs: LeafCertStore;
  remove(): Promise<void>;
}

export async function createTestPki(label: string): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), `credproxy-${label}-`));
  const ca = await loadOrCreateCa({ certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') });
  const certs = await LeafCertStore.create(ca);
  return { dir, ca, caPath: ca.certPath, certs, remove: () => rm(dir, { recursive: true, force: true }) };
}
