import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type SecureContext } from 'node:tls';
import { LeafCertStore, loadOrCreateCa, type CertLookupResult, type CertMintResult, type CertificateAuthority } from '../../../src/tls/index.js';
import { startTlsFixture } from './tls-fixture.js';

let dir: string;
let ca: CertificateAuthority;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'credproxy-leafstore-'));
  ca = await loadOrCreateCa({ certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') });
});
after(() => rm(dir, { recursive: true, force: true }));

async function storeWithLog(options: { maxHosts?: number; now?: () => number } = {}) {
  const lookups: CertLookupResult[] = [];
  const store = await LeafCertStore.create(ca, { ...options, onLookup: (r) => lookups.push(r) });
  return { store, lookups };
}

test('concurrent first lookups for one host mint once and share the result', async () => {
  const { store, lookups } = await storeWithLog();
  const pending = Array.from({ length: 10 }, () => store.secureContextFor('burst.example.test'));
  assert.ok(pending.every((p) => p instanceof Promise));
  const contexts = await Promise.all(pending);
  assert.ok(contexts.every((c) => c === contexts[0]));
  assert.deepEqual(lookups, ['miss', ...Array<CertLookupResult>(9).fill('coalesced')]);
});

test('a cached lookup returns the SecureContext synchronously, case-insensitively', async () => {
  const { store, lookups } = await storeWithLog();
  const minted = await store.secureContextFor('Sync.Example.Test');
  for (const name of ['sync.example.test', 'SYNC.EXAMPLE.TEST', 'sync.example.test.']) {
    const cached = store.secureContextFor(name);
    assert.equal(cached instanceof Promise, false, name);
    assert.equal(cached, minted);
  }
  assert.deepEqual(lookups, ['miss', 'hit', 'hit', 'hit']);
});

test('IPv6 spellings of one address share a cache entry', async () => {
  const { store, lookups } = await storeWithLog();
  const minted = await store.secureContextFor('::1');
  assert.equal(store.secureContextFor('[::1]'), minted);
  assert.equal(store.secureContextFor('0:0:0:0:0:0:0:1'), minted);
  assert.deepEqual(lookups, ['miss', 'hit', 'hit']);
});

test('the cache is bounded by maxHosts (least recently used evicted)', async () => {
  const { store, lookups } = await storeWithLog({ maxHosts: 2 });
  for (const name of ['a.test', 'b.test', 'c.test']) await store.secureContextFor(name);
  assert.equal(store.secureContextFor('c.test') instanceof Promise, false);
  assert.ok(store.secureContextFor('a.test') instanceof Promise, 'a.test was evicted');
  assert.deepEqual(lookups, ['miss', 'miss', 'miss', 'hit', 'miss']);
});

test('a leaf within a day of expiry is minted again', async () => {
  let now = Date.now();
  const { store, lookups } = await storeWithLog({ now: () => now });
  const first = await store.secureContextFor('renew.example.test');
  now += 28 * 24 * 3600_000;
  assert.equal(store.secureContextFor('renew.example.test'), first, 'still served two days before expiry');
  now += 1.5 * 24 * 3600_000;
  const renewed = store.secureContextFor('renew.example.test');
  assert.ok(renewed instanceof Promise);
  assert.notEqual(await renewed, first);
  assert.deepEqual(lookups, ['miss', 'hit', 'miss']);
});

test('invalid names are refused without throwing, through both entry points', async () => {
  const { store, lookups } = await storeWithLog();
  for (const name of ['', 'bad name', 'a..b', '*.example.test', '-x.test', 'x'.repeat(300), '1::2::3', 'a\u0000b']) {
    await assert.rejects(Promise.resolve(store.secureContextFor(name)), /invalid server name/, JSON.stringify(name));
    const err = await new Promise<Error | null>((resolve) => store.sniCallback(name, (e) => resolve(e)));
    assert.ok(err instanceof Error);
  }
  assert.deepEqual(lookups, []);
});

test('sniCallback answers from cache synchronously and mints on first use', async () => {
  const { store } = await storeWithLog();
  const first = await new Promise<SecureContext | undefined>((resolve, reject) => {
    store.sniCallback('sni.example.test', (err, ctx) => (err ? reject(err) : resolve(ctx)));
  });
  assert.ok(first);
  let answered: SecureContext | undefined;
  store.sniCallback('sni.example.test', (_err, ctx) => {
    answered = ctx;
  });
  assert.equal(answered, first, 'called back before returning');
});

test('rejects out-of-range options', async () => {
  await assert.rejects(LeafCertStore.create(ca, { validityDays: 1 }), RangeError);
  await assert.rejects(LeafCertStore.create(ca, { validityDays: 400 }), RangeError);
  await assert.rejects(LeafCertStore.create(ca, { maxHosts: 0 }), RangeError);
});

test('an operator-supplied RSA CA signs leaves (sha256WithRSAEncryption) that verify', async () => {
  const rsaDir = join(dir, 'rsa');
  const keyPath = join(rsaDir, 'ca.key');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  await mkdir(rsaDir);
  await writeFile(keyPath, rsa.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const rsaCa = await loadOrCreateCa({ certPath: join(rsaDir, 'ca.crt'), keyPath });
  const store = await LeafCertStore.create(rsaCa);
  const fixture = await startTlsFixture(store, await store.secureContextFor('fallback.example.test'));
  try {
    const authorized = await new Promise<boolean>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: fixture.port, servername: 'rsa.example.test', ca: rsaCa.certPem });
      socket.once('secureConnect', () => {
        resolve(socket.authorized && socket.getPeerCertificate().subjectaltname === 'DNS:rsa.example.test');
        socket.end();
      });
      socket.once('error', reject);
    });
    assert.ok(authorized);
  } finally {
    await fixture.close();
  }
});

test("onMint reports each mint's duration, an invalid name, and a signing failure", async () => {
  const results: CertMintResult[] = [];
  const store = await LeafCertStore.create(ca, { onMint: (r) => results.push(r) });
  await store.secureContextFor('mint.example.test');
  await store.secureContextFor('mint.example.test');
  await assert.rejects(Promise.resolve(store.secureContextFor('no such name')));
  assert.equal(results.length, 2, 'a cached lookup mints nothing');
  assert.ok('ms' in results[0]! && results[0].ms > 0);
  assert.deepEqual(results[1], { error: 'invalid_name' });

  // A CA key that cannot sign (X25519 is for key agreement only) makes every mint fail.
  const broken = await LeafCertStore.create({ ...ca, signingKey: generateKeyPairSync('x25519').privateKey }, { onMint: (r) => results.push(r) });
  await assert.rejects(Promise.resolve(broken.secureContextFor('broken.example.test')));
  assert.deepEqual(results[2], { error: 'failed' });
});
