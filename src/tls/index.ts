export { loadOrCreateCa, type CertificateAuthority, type LoadCaOptions } from './ca.js';
export { writeCaBundle } from './ca-bundle.js';
export { LeafCertStore, type CertLookupResult, type CertMintResult, type LeafCertStoreOptions } from './leaf-certs.js';
export { prepareProxyTls, type ProxyTls } from './proxy-tls.js';
export { readPemCertificates } from './trust-roots.js';
