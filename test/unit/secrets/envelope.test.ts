import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EnvelopeCipher, MasterKeyWrapper } from '../../../src/secrets/envelope.js';
import { SealedBoxError, SealedBoxKeyPair, isSealedBoxPublicKey, sealTo } from '../../../src/secrets/sealed-box.js';

test('envelope: each value under its own data key, the data key under the master key', async () => {
  const envelope = new EnvelopeCipher(new MasterKeyWrapper(randomBytes(32)));
  const a = await envelope.seal('real-value', 'id-1');
  const b = await envelope.seal('real-value', 'id-1');
  assert.equal(a.keyId, 'master:v1');
  assert.notDeepEqual(a.dataKeyEnc, b.dataKeyEnc, 'a fresh data key per seal');
  assert.ok(!a.valueEnc.includes(Buffer.from('real-value')));
  assert.equal((await envelope.open(a, 'id-1')).reveal(), 'real-value');
  await assert.rejects(envelope.open(a, 'id-2'), { code: 'secret_decrypt_failed' }, 'bound to its row by the AAD');
  await assert.rejects(new EnvelopeCipher(new MasterKeyWrapper(randomBytes(32))).open(a, 'id-1'), { code: 'secret_decrypt_failed' });
  await assert.rejects(envelope.open({ valueEnc: b.valueEnc, dataKeyEnc: a.dataKeyEnc }, 'id-1'), { code: 'secret_decrypt_failed' });
});

test('sealed box: only the key pair it was sealed to opens it, and any change is refused', () => {
  const keys = new SealedBoxKeyPair();
  const other = new SealedBoxKeyPair();
  assert.ok(isSealedBoxPublicKey(keys.publicKey));
  assert.ok(!isSealedBoxPublicKey('bm90IGEga2V5'));
  const sealed = sealTo(keys.publicKey, Buffer.from('bundle with real-value'));
  assert.ok(!sealed.includes(Buffer.from('real-value')));
  assert.equal(keys.open(sealed).toString(), 'bundle with real-value');
  assert.throws(() => other.open(sealed), SealedBoxError);
  const altered = Buffer.from(sealed);
  altered[altered.length - 1]! ^= 1;
  assert.throws(
    () => keys.open(altered),
    (err: Error & { code?: string }) => err.code === 'sealed_box_invalid' && !err.message.includes('real'),
  );
  assert.throws(() => keys.open(Buffer.alloc(10)), SealedBoxError);
});
