import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateCa } from '../../../src/tls/index.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'credproxy-ca-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A ConfigError for `key` whose message names the file but shows none of `secretText`. */
function configErrorFor(key: string, secretText?: string) {
  return (err: unknown) => {
    const e = err as { code?: string; key?: string; message: string };
    assert.equal(e.code, 'config_invalid');
    assert.equal(e.key, key);
    if (secretText) assert.ok(!e.message.includes(secretText.slice(40, 80)), 'message leaks key material');
    return true;
  };
}

test('first load creates a CA in nested dirs: key 0600, CA extensions, 10-year validity', async () => {
  await withDir(async (dir) => {
    const certPath = join(dir, 'a/b/ca.crt');
    const keyPath = join(dir, 'c/ca.key');
    const ca = await loadOrCreateCa({ certPath, keyPath });

    assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
    assert.equal(await readFile(certPath, 'utf8'), ca.certPem);
    assert.equal(ca.signingKey.asymmetricKeyType, 'ec');
    const x509 = new X509Certificate(ca.certPem);
    assert.equal(x509.ca, true);
    assert.ok(x509.checkPrivateKey(ca.signingKey));
    assert.ok(x509.verify(x509.publicKey), 'self-signed');
    const years = (new Date(x509.validTo).getTime() - Date.now()) / (365.25 * 24 * 3600_000);
    assert.ok(years > 9.9 && years < 10.1, `validity ${years} years`);
    assert.match(x509.subject, /^CN=credproxy CA [0-9a-f]{8}\nO=credproxy$/);
    assert.equal(JSON.stringify(ca).includes('PRIVATE'), false);
  });
});

test('second load reuses the same certificate and key', async () => {
  await withDir(async (dir) => {
    const paths = { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') };
    const first = await loadOrCreateCa(paths);
    const keyPem = await readFile(paths.keyPath, 'utf8');
    const second = await loadOrCreateCa(paths);
    assert.equal(second.certPem, first.certPem);
    assert.equal(await readFile(paths.keyPath, 'utf8'), keyPem);
    assert.ok(second.signingKey.equals(first.signingKey));
  });
});

test('certificate without its key is a ConfigError naming ca.key', async () => {
  await withDir(async (dir) => {
    const paths = { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') };
    await loadOrCreateCa(paths);
    await unlink(paths.keyPath);
    await assert.rejects(loadOrCreateCa(paths), configErrorFor('ca.key'));
    assert.ok(await stat(paths.certPath), 'the certificate is left alone');
  });
});

test('a key that does not match the certificate is a ConfigError naming ca.key', async () => {
  await withDir(async (dir) => {
    const paths = { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') };
    await loadOrCreateCa(paths);
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await writeFile(paths.keyPath, other, { mode: 0o600 });
    await assert.rejects(loadOrCreateCa(paths), configErrorFor('ca.key', other));
  });
});

test('an unparsable or unreadable key is a ConfigError naming ca.key', async () => {
  await withDir(async (dir) => {
    const paths = { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') };
    await loadOrCreateCa(paths);
    const garbage = `-----BEGIN PRIVATE KEY-----\n${'QUJD'.repeat(40)}\n-----END PRIVATE KEY-----\n`;
    await writeFile(paths.keyPath, garbage);
    await assert.rejects(loadOrCreateCa(paths), configErrorFor('ca.key', garbage));
    await rm(paths.keyPath);
    await writeFile(join(dir, 'not-a-file'), '');
    await assert.rejects(loadOrCreateCa({ ...paths, keyPath: join(dir, 'not-a-file', 'ca.key') }), configErrorFor('ca.key'));
  });
});

test('a certificate file that is not a CA certificate is a ConfigError naming ca.cert', async () => {
  await withDir(async (dir) => {
    const paths = { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') };
    await writeFile(paths.certPath, 'not a certificate\n');
    await assert.rejects(loadOrCreateCa(paths), configErrorFor('ca.cert'));
  });
});

test('a key left without its certificate (e.g. an operator RSA key) gets a new CA certificate', async () => {
  await withDir(async (dir) => {
    const paths = { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') };
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await writeFile(paths.keyPath, rsa.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const ca = await loadOrCreateCa(paths);
    const x509 = new X509Certificate(ca.certPem);
    assert.ok(x509.checkPrivateKey(rsa));
    assert.ok(x509.verify(x509.publicKey));
    assert.equal(x509.ca, true);
  });
});

test('a CA key that group or others can read is refused, with the chmod that fixes it', async () => {
  await withDir(async (dir) => {
    const paths = { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') };
    await loadOrCreateCa(paths);
    await chmod(paths.keyPath, 0o644);
    await assert.rejects(
      loadOrCreateCa(paths),
      (err: { key: string; message: string }) => configErrorFor('ca.key')(err) && err.message.includes(`chmod 600 ${paths.keyPath}`),
    );
    // A key left without its certificate is checked as well before it signs a new one.
    await unlink(paths.certPath);
    await assert.rejects(loadOrCreateCa(paths), configErrorFor('ca.key'));
    await chmod(paths.keyPath, 0o600);
    await loadOrCreateCa(paths);
  });
});
