import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROVIDERS } from '../../../src/secrets/providers.js';
import { mintAccessToken, mintStandIn } from '../../../src/secrets/stand-in.js';

const ALNUM_BODY = /^[A-Za-z0-9]+$/;
const B64URL_BODY = /^[A-Za-z0-9_-]+$/;
const DRAWS = 1000;

for (const provider of PROVIDERS) {
  test(`stand-ins for ${provider.name} have the provider's shape and do not repeat`, () => {
    const { prefix, length, alphabet } = provider.standIn;
    const seen = new Set<string>();
    for (let i = 0; i < DRAWS; i++) {
      const token = mintStandIn(provider);
      assert.ok(token.startsWith(prefix));
      const body = token.slice(prefix.length);
      assert.equal(body.length, length);
      assert.match(body, alphabet === 'alnum' ? ALNUM_BODY : B64URL_BODY);
      seen.add(token);
    }
    assert.equal(seen.size, DRAWS);
  });
}

test('stripe stand-ins are test keys, never live ones', () => {
  const stripe = PROVIDERS.find((p) => p.name === 'stripe')!;
  assert.match(mintStandIn(stripe), /^sk_test_[A-Za-z0-9]{24}$/);
});

test('custom stand-ins are cps_ + 43 base64url characters', () => {
  const seen = new Set<string>();
  for (let i = 0; i < DRAWS; i++) {
    const token = mintStandIn(undefined);
    assert.match(token, /^cps_[A-Za-z0-9_-]{43}$/);
    seen.add(token);
  }
  assert.equal(seen.size, DRAWS);
});

test('every alphabet symbol occurs and none dominates (no gross bias)', () => {
  const openai = PROVIDERS.find((p) => p.name === 'openai')!;
  const counts = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < 2000; i++) {
    for (const ch of mintStandIn(openai).slice('sk-proj-'.length)) {
      counts.set(ch, (counts.get(ch) ?? 0) + 1);
      total++;
    }
  }
  assert.equal(counts.size, 62);
  const expected = total / 62; // ≈ 2065; a plain byte % 62 would put 8 symbols 25 % above the rest
  for (const [ch, n] of counts) assert.ok(Math.abs(n - expected) < expected * 0.15, `${ch}: ${n} vs ${expected}`);
});

test('access tokens are URL-safe with 256 bits of entropy', () => {
  const seen = new Set<string>();
  const chars = new Set<string>();
  for (let i = 0; i < DRAWS; i++) {
    const token = mintAccessToken();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token, 'base64url').length, 32);
    for (const ch of token) chars.add(ch);
    seen.add(token);
  }
  assert.equal(seen.size, DRAWS);
  assert.equal(chars.size, 64, 'the whole base64url alphabet is used');
});
