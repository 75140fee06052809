import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { loadOrCreateMasterKey, SecretCipher } from '../../../src/secrets/crypto.js';
import { loadOrCreateApiKey } from '../../../src/secrets/key-files.js';

const PLANTED = 'sk-live-PLANTED-credential-0123456789';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('seal/open round-trips and never stores the plaintext', () => {
  const cipher = new SecretCipher(randomBytes(32));
  const blob = cipher.seal(PLANTED, 'secret-id-1');
  assert.equal(blob.includes(Buffer.from(PLANTED)), false);
  assert.equal(blob.length, 12 + 16 + Buffer.byteLength(PLANTED));
  const value = cipher.open(blob, 'secret-id-1');
  assert.equal(value.reveal(), PLANTED);
  assert.equal(inspect(value).includes(PLANTED), false);
});

test('each seal uses a fresh nonce', () => {
  const cipher = new SecretCipher(randomBytes(32));
  const a = cipher.seal(PLANTED, 'id');
  const b = cipher.seal(PLANTED, 'id');
  assert.notDeepEqual(a.subarray(0, 12), b.subarray(0, 12));
  assert.notDeepEqual(a, b);
});

test('wrong key, wrong AAD, tampering and truncation fail without showing the value', () => {
  const key = randomBytes(32);
  const cipher = new SecretCipher(key);
  const blob = cipher.seal(PLANTED, 'id-a');
  const tampered = Buffer.from(blob);
  tampered[tampered.length - 1]! ^= 1;
  const attempts: Array<() => unknown> = [
    () => new SecretCipher(randomBytes(32)).open(blob, 'id-a'),
    () => cipher.open(blob, 'id-b'),
    () => cipher.open(tampered, 'id-a'),
    () => cipher.open(blob.subarray(0, 20), 'id-a'),
  ];
  for (const attempt of attempts) {
    assert.throws(attempt, (err: Error & { code?: string }) => {
      assert.equal(err.code, 'secret_decrypt_failed');
      assert.equal(`${err.message}${err.stack}`.includes(PLANTED), false);
      return true;
    });
  }
});

test('the cipher refuses a key of the wrong size', () => {
  assert.throws(() => new SecretCipher(randomBytes(16)), RangeError);
});

test('master key: generated 0600 into the data dir and reused', (t) => {
  const dataDir = join(tmp(t), 'data');
  const first = loadOrCreateMasterKey({ dataDir });
  assert.equal(first.length, 32);
  const path = join(dataDir, 'master.key');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(loadOrCreateMasterKey({ dataDir }), first);
});

test('master key: configured value wins and is validated', (t) => {
  const dataDir = tmp(t);
  const key = randomBytes(32);
  assert.deepEqual(loadOrCreateMasterKey({ dataDir, masterKey: key.toString('base64') }), key);
  assert.throws(() => loadOrCreateMasterKey({ dataDir, masterKey: 'c2hvcnQ=' }), { code: 'config_invalid', key: 'masterKey' });
});

test('master key: a corrupt key file is an error, never replaced', (t) => {
  const dataDir = tmp(t);
  writeFileSync(join(dataDir, 'master.key'), 'not-a-key\n', { mode: 0o600 });
  assert.throws(() => loadOrCreateMasterKey({ dataDir }), { code: 'config_invalid' });
  assert.equal(readFileSync(join(dataDir, 'master.key'), 'utf8'), 'not-a-key\n');
});

test('api key: generated 0600 (≥ 32 bytes base64url), reused, configured value wins', (t) => {
  const dataDir = tmp(t);
  const key = loadOrCreateApiKey({ dataDir, admin: {} });
  assert.match(key, /^[A-Za-z0-9_-]{43,}$/);
  assert.equal(statSync(join(dataDir, 'admin-api-key')).mode & 0o777, 0o600);
  assert.equal(loadOrCreateApiKey({ dataDir, admin: {} }), key);
  assert.equal(loadOrCreateApiKey({ dataDir, admin: { apiKey: 'configured-key-0123456789' } }), 'configured-key-0123456789');
});

test('key files that group or others can read are refused, with the chmod that fixes it', (t) => {
  const dataDir = tmp(t);
  loadOrCreateMasterKey({ dataDir });
  loadOrCreateApiKey({ dataDir, admin: {} });
  for (const [file, load, key] of [
    ['master.key', () => loadOrCreateMasterKey({ dataDir }), 'masterKey'],
    ['admin-api-key', () => loadOrCreateApiKey({ dataDir, admin: {} }), 'admin.apiKey'],
  ] as const) {
    const path = join(dataDir, file);
    for (const mode of [0o644, 0o640, 0o604]) {
      chmodSync(path, mode);
      assert.throws(
        load,
        (err: { code: string; key: string; message: string }) =>
          err.code === 'config_invalid' && err.key === key && err.message.includes(`chmod 600 ${path}`) && err.message.includes(mode.toString(8)),
      );
    }
    chmodSync(path, 0o400);
    assert.doesNotThrow(load);
  }
});
