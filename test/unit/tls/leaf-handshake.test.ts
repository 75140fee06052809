import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import { LeafCertStore, loadOrCreateCa, type CertificateAuthority } from '../../../src/tls/index.js';
import { PYTHON_STRICT_CLIENT, execFileAsync, hasCommand, startTlsFixture } from './tls-fixture.js';

let dir: string;
let ca: CertificateAuthority;
let store: LeafCertStore;
let caFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'credproxy-leaf-'));
  ca = await loadOrCreateCa({ certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') });
  store = await LeafCertStore.create(ca);
  caFile = ca.certPath;
});
after(() => rm(dir, { recursive: true, force: true }));

/** Handshake with Node's client, verifying against the CA only; resolves with the leaf presented. */
function nodeHandshake(port: number, name: string): Promise<PeerCertificate> {
  const isIp = name.includes(':') || /^\d+\.\d+\.\d+\.\d+$/.test(name);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: ca.certPem,
      ...(isIp ? {} : { servername: name }),
      checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert),
    });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate(true);
      socket.end();
      resolve(cert);
    });
    socket.once('error', reject);
  });
}

async function fixtureFor(name: string) {
  const context = await store.secureContextFor(name);
  return startTlsFixture(store, context);
}

function assertLeafProfile(peer: PeerCertificate, san: string): void {
  const leaf = new X509Certificate(peer.raw);
  const issuer = new X509Certificate(ca.certPem);
  assert.equal(leaf.ca, false);
  assert.equal(leaf.subjectAltName, san);
  assert.ok(leaf.verify(issuer.publicKey), 'leaf is signed by the CA');
  assert.ok(leaf.checkIssued(issuer));
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(peer.serialNumber.length > 0 && !/^0+$/.test(peer.serialNumber), true);
  const validity = new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime();
  assert.ok(validity <= 31 * 24 * 3600_000 && validity > 29 * 24 * 3600_000);
  assert.ok(new Date(leaf.validFrom).getTime() < Date.now() - 59 * 60_000, 'notBefore backdated an hour');
}

for (const [name, san] of [
  ['api.example.test', 'DNS:api.example.test'],
  ['127.0.0.1', 'IP Address:127.0.0.1'],
  ['::1', 'IP Address:0:0:0:0:0:0:0:1'],
] as const) {
  test(`leaf for ${name} verifies with Node's TLS client and carries the strict profile`, async () => {
    const fixture = await fixtureFor(name);
    try {
      const peer = await nodeHandshake(fixture.port, name);
      assertLeafProfile(peer, san);
    } finally {
      await fixture.close();
    }
  });
}

test('curl --cacert accepts leaves for a DNS name and an IPv4 literal', async () => {
  for (const name of ['curl.example.test', '127.0.0.1']) {
    const fixture = await fixtureFor(name);
    try {
      const url = `https://${name}:${fixture.port}/`;
      const resolve = name === '127.0.0.1' ? [] : ['--resolve', `${name}:${fixture.port}:127.0.0.1`];
      const { stdout } = await execFileAsync('curl', ['-sS', '--max-time', '10', '--cacert', caFile, ...resolve, url]);
      assert.equal(stdout, 'ok\n');
    } finally {
      await fixture.close();
    }
  }
});

test('curl --cacert accepts the leaf for ::1 (IPv6 SAN)', async () => {
  const fixture = await fixtureFor('::1');
  try {
    const { stdout } = await execFileAsync('curl', [
      '-sS',
      '--max-time',
      '10',
      '--cacert',
      caFile,
      '--connect-to',
      `[::1]:${fixture.port}:127.0.0.1:${fixture.port}`,
      `https://[::1]:${fixture.port}/`,
    ]);
    assert.equal(stdout, 'ok\n');
  } finally {
    await fixture.close();
  }
});

test('Python ssl with VERIFY_X509_STRICT accepts leaves for a DNS name, 127.0.0.1 and ::1', async (t) => {
  if (!(await hasCommand('python3', '--version'))) {
    t.skip('python3 not installed');
    return;
  }
  for (const name of ['strict.example.test', '127.0.0.1', '::1']) {
    const fixture = await fixtureFor(name);
    try {
      const { stdout } = await execFileAsync('python3', ['-c', PYTHON_STRICT_CLIENT, caFile, name, String(fixture.port)], { timeout: 10_000 });
      assert.equal(stdout, 'ok\n', name);
    } finally {
      await fixture.close();
    }
  }
});

test('openssl verify -x509_strict -purpose sslserver accepts the leaf', async (t) => {
  if (!(await hasCommand('openssl', 'version'))) {
    t.skip('openssl not installed');
    return;
  }
  const fixture = await fixtureFor('openssl.example.test');
  try {
    const peer = await nodeHandshake(fixture.port, 'openssl.example.test');
    const leafFile = join(dir, 'leaf.pem');
    await writeFile(leafFile, new X509Certificate(peer.raw).toString());
    const { stdout } = await execFileAsync('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', caFile, leafFile], { timeout: 10_000 });
    assert.match(stdout, /: OK/);
  } finally {
    await fixture.close();
  }
});

test('a client that does not trust the CA is refused', async () => {
  const fixture = await fixtureFor('untrusted.example.test');
  try {
    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: fixture.port, servername: 'untrusted.example.test', ca: [] });
        socket.once('secureConnect', () => {
          socket.end();
          resolve();
        });
        socket.once('error', reject);
      }),
      { code: 'SELF_SIGNED_CERT_IN_CHAIN' },
    );
  } finally {
    await fixture.close();
  }
});
