import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { loadOrCreateCa, writeCaBundle } from '../../../src/tls/index.js';

test('ca-bundle.pem holds the system roots and the CA, mode 0644, written atomically', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'credproxy-bundle-'));
  try {
    const ca = await loadOrCreateCa({ certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') });
    const bundlePath = join(dir, 'data', 'ca-bundle.pem');
    await writeCaBundle(ca.certPem, bundlePath);
    await writeCaBundle(ca.certPem, bundlePath); // replacing an existing bundle works too

    const bundle = await readFile(bundlePath, 'utf8');
    assert.ok(bundle.includes(ca.certPem.trim()));
    assert.ok(rootCertificates.length > 50);
    for (const root of rootCertificates) assert.ok(bundle.includes(root));
    assert.equal(bundle.match(/-----BEGIN CERTIFICATE-----/g)?.length, rootCertificates.length + 1);
    assert.equal((await stat(bundlePath)).mode & 0o777, 0o644);
    assert.deepEqual(await readdir(join(dir, 'data')), ['ca-bundle.pem'], 'no temporary file left behind');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
