import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { KIT_FILES, TRUST_STORE_PASSWORD, writeSandboxKit } from '../../../src/kit/index.js';
import { loadOrCreateCa } from '../../../src/tls/index.js';
import { createLogger } from '../../../src/log/logger.js';

const haveKeytool = spawnSync('sh', ['-c', 'command -v keytool'], { stdio: 'ignore' }).status === 0;

async function kit(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-kit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await loadOrCreateCa({ certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key'), logger: createLogger({ level: 'silent' }) });
  const caBundlePem = `${[...rootCertificates, ca.certPem.trim()].join('\n')}\n`;
  const written = await writeSandboxKit({ dir: join(dir, 'kit'), sandboxPath: '/etc/credproxy/kit', caBundlePem });
  return { dir: join(dir, 'kit'), ca, caBundlePem, written };
}

test('the kit: bundle, rc files naming paths inside the sandbox, Node preload, all 0644', async (t) => {
  const { dir, caBundlePem, written } = await kit(t);
  assert.equal(readFileSync(join(dir, KIT_FILES.caBundle), 'utf8'), caBundlePem);
  assert.match(readFileSync(join(dir, KIT_FILES.wgetrc), 'utf8'), /^ca_certificate = \/etc\/credproxy\/kit\/ca-bundle\.pem$/m);
  const ini = readFileSync(join(dir, KIT_FILES.phpIni), 'utf8');
  assert.match(ini, /^curl\.cainfo = "\/etc\/credproxy\/kit\/ca-bundle\.pem"$/m);
  assert.match(ini, /^openssl\.cafile = "\/etc\/credproxy\/kit\/ca-bundle\.pem"$/m);
  // npm ci builds dist/kit; the suite runs after it.
  assert.equal(written.agents, true, 'dist/kit holds the Node files and the Java agent (npm run build)');
  for (const name of Object.values(KIT_FILES).filter((n) => n !== KIT_FILES.phpIniDir)) {
    assert.equal(statSync(join(dir, name)).mode & 0o777, 0o644, name);
  }
});

test(
  'the PKCS#12 trust store: keytool lists every bundle certificate as a trustedCertEntry',
  { skip: haveKeytool ? false : "keytool is not installed (.ci/run installs Debian's openjdk-17-jdk-headless)" },
  async (t) => {
    const { dir, ca } = await kit(t);
    const listing = execFileSync(
      'keytool',
      ['-list', '-keystore', join(dir, KIT_FILES.trustStore), '-storetype', 'PKCS12', '-storepass', TRUST_STORE_PASSWORD],
      { encoding: 'utf8' },
    );
    assert.equal(listing.match(/trustedCertEntry/g)?.length, rootCertificates.length + 1);
    const der = Buffer.from(ca.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const fingerprint = createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
    assert.ok(listing.includes(fingerprint), 'the credproxy CA is in it');
    // A wrong password fails the integrity check: the MAC is real.
    assert.notEqual(
      spawnSync('keytool', ['-list', '-keystore', join(dir, KIT_FILES.trustStore), '-storetype', 'PKCS12', '-storepass', 'wrong-password'], { stdio: 'ignore' })
        .status,
      0,
    );
  },
);
