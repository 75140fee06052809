import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import type { AuthRule, PerHostRule } from '../../../src/auth-shapes/index.js';
import { basic, decodeBasicHeader, https, real, setup } from './policy-fixture.js';

/** One sandbox bound to one secret; returns what a request needs. */
function oneSecret(auth: AuthRule | { per_host: PerHostRule[] }, hosts: string[]) {
  const ctx = setup();
  const value = real('shape');
  const secret = ctx.source.addSecret({ name: 'svc', value, auth, hosts });
  const sandbox = ctx.source.addSandbox({ secrets: { SVC_KEY: secret.id } });
  const { policy, table } = ctx.start();
  const identity = table.identityForToken(sandbox.accessToken)!;
  const standIn = ctx.source.standIn(sandbox.id, 'SVC_KEY');
  const send = (host: string, headers: IncomingHttpHeaders) => policy.authorizeRequest(identity, https(host), headers);
  return { value, standIn, send, secret };
}

test('bearer: Authorization Bearer <t> → Bearer <real>, scheme case-insensitive', () => {
  const { value, standIn, send, secret } = oneSecret({ type: 'bearer' }, ['api.openai.com']);
  for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
    const headers: IncomingHttpHeaders = { authorization: `${scheme} ${standIn}`, accept: '*/*' };
    const result = send('api.openai.com', headers);
    assert.deepEqual(headers, { authorization: `Bearer ${value}`, accept: '*/*' });
    assert.deepEqual(result.matches, [{ secretId: secret.id, secretName: 'svc', authType: 'bearer', rule: 'secret "svc" allows api.openai.com (bearer)' }]);
    assert.ok(result.scrubber);
  }
});

test('bearer: a stand-in glued to more token characters is another token, not a match', () => {
  const { standIn, send } = oneSecret({ type: 'bearer' }, ['api.openai.com']);
  const headers = { authorization: `Bearer ${standIn}x` };
  const before = structuredClone(headers);
  const result = send('api.openai.com', headers);
  assert.deepEqual(result.matches, []);
  assert.equal(result.scrubber, undefined);
  assert.deepEqual(headers, before);
});

test('a stand-in outside its shape is swapped where it stands: same header, same text around it', () => {
  const { value, standIn, send, secret } = oneSecret({ type: 'bearer' }, ['api.openai.com']);
  const cases: Array<[IncomingHttpHeaders, IncomingHttpHeaders, string]> = [
    [{ 'x-api-key': standIn }, { 'x-api-key': value }, 'x-api-key'],
    [{ authorization: `Token ${standIn}` }, { authorization: `Token ${value}` }, 'authorization'],
    [{ cookie: `a=1; key=${standIn}; b=2` }, { cookie: `a=1; key=${value}; b=2` }, 'cookie'],
  ];
  for (const [headers, expected, where] of cases) {
    const result = send('api.openai.com', headers);
    assert.deepEqual(headers, expected);
    assert.deepEqual(result.matches, [
      { secretId: secret.id, secretName: 'svc', authType: 'in_place', rule: `secret "svc" allows api.openai.com (in place: ${where})` },
    ]);
    assert.ok(result.scrubber, 'the echo of the swapped value is scrubbed');
  }
  // In a Basic password the header is encoded again, the username and scheme kept.
  const basicHeaders: IncomingHttpHeaders = { authorization: basic('u', standIn) };
  const result = send('api.openai.com', basicHeaders);
  assert.equal(decodeBasicHeader(basicHeaders.authorization), `u:${value}`);
  assert.equal(result.matches[0]?.rule, 'secret "svc" allows api.openai.com (in place: authorization basic password)');
});

test('basic with a rule username: the password is matched, the rule username is sent', () => {
  const { value, standIn, send } = oneSecret({ type: 'basic', username: 'api' }, ['api.example.com']);
  const headers: IncomingHttpHeaders = { authorization: basic('whoever', standIn) };
  assert.equal(send('api.example.com', headers).matches[0]?.authType, 'basic');
  assert.equal(decodeBasicHeader(headers.authorization), `api:${value}`);
});

test('basic without a rule username keeps the client username', () => {
  const { value, standIn, send } = oneSecret({ type: 'basic' }, ['api.example.com']);
  const headers: IncomingHttpHeaders = { authorization: basic('alice', standIn).replace('Basic', 'basic') };
  send('api.example.com', headers);
  assert.equal(decodeBasicHeader(headers.authorization), `alice:${value}`);
});

test('api-key with and without prefix; Authorization without prefix carries the raw key', () => {
  const prefixed = oneSecret({ type: 'api-key', header: 'X-Api-Key', prefix: 'Token ' }, ['api.example.com']);
  const h1: IncomingHttpHeaders = { 'x-api-key': `Token ${prefixed.standIn}` };
  assert.equal(prefixed.send('api.example.com', h1).matches[0]?.authType, 'api-key');
  assert.deepEqual(h1, { 'x-api-key': `Token ${prefixed.value}` });
  // Without its prefix the stand-in is not in the rule's shape: swapped where it stands.
  const unprefixed: IncomingHttpHeaders = { 'x-api-key': prefixed.standIn };
  assert.equal(prefixed.send('api.example.com', unprefixed).matches[0]?.authType, 'in_place');
  assert.deepEqual(unprefixed, { 'x-api-key': prefixed.value });

  const plain = oneSecret({ type: 'api-key', header: 'x-api-key' }, ['api.anthropic.com']);
  const h2: IncomingHttpHeaders = { 'x-api-key': plain.standIn };
  plain.send('api.anthropic.com', h2);
  assert.deepEqual(h2, { 'x-api-key': plain.value });

  const linear = oneSecret({ type: 'api-key', header: 'Authorization' }, ['api.linear.app']);
  const h3: IncomingHttpHeaders = { authorization: linear.standIn };
  linear.send('api.linear.app', h3);
  assert.deepEqual(h3, { authorization: linear.value });
});

test('custom, single header: template rendered with the real value (spaces in braces optional)', () => {
  for (const template of ['Key {{ value }}', 'Key {{value}}', 'Key {{  value }}']) {
    const { value, standIn, send } = oneSecret({ type: 'custom', headers: { 'X-Auth': template } }, ['api.example.com']);
    const headers: IncomingHttpHeaders = { 'x-auth': `Key ${standIn}` };
    assert.equal(send('api.example.com', headers).matches[0]?.authType, 'custom');
    assert.deepEqual(headers, { 'x-auth': `Key ${value}` });
  }
});

test('custom, several headers: the matched one is stripped and every header of the shape is set', () => {
  const { value, standIn, send } = oneSecret({ type: 'custom', headers: { 'X-Key': '{{ value }}', 'X-Sig': 'v1={{ value }};' } }, ['api.example.com']);
  const headers: IncomingHttpHeaders = { 'x-sig': `v1=${standIn};`, accept: 'application/json' };
  send('api.example.com', headers);
  assert.deepEqual(headers, { accept: 'application/json', 'x-key': value, 'x-sig': `v1=${value};` });
});

const GITHUB = {
  per_host: [
    { hosts: ['api.github.com'], type: 'bearer' as const },
    { hosts: ['github.com'], type: 'basic' as const, username: 'x-access-token' },
  ],
};

test('per_host github: Bearer on api.github.com stays Bearer', () => {
  const { value, standIn, send } = oneSecret(GITHUB, ['api.github.com', 'github.com']);
  const headers: IncomingHttpHeaders = { authorization: `Bearer ${standIn}` };
  const result = send('api.github.com', headers);
  assert.deepEqual(headers, { authorization: `Bearer ${value}` });
  assert.equal(result.matches[0]?.authType, 'bearer');
  assert.equal(result.matches[0]?.rule, 'secret "svc" per_host[0] allows api.github.com (bearer)');
});

test('per_host github: Bearer or Basic on github.com leaves as Basic x-access-token', () => {
  const { value, standIn, send } = oneSecret(GITHUB, ['api.github.com', 'github.com']);
  for (const authorization of [`Bearer ${standIn}`, basic('git', standIn)]) {
    const headers: IncomingHttpHeaders = { authorization };
    const result = send('github.com', headers);
    assert.equal(decodeBasicHeader(headers.authorization), `x-access-token:${value}`);
    assert.equal(result.matches[0]?.authType, 'basic');
  }
  const toApi: IncomingHttpHeaders = { authorization: basic('git', standIn) };
  send('api.github.com', toApi);
  assert.deepEqual(toApi, { authorization: `Bearer ${value}` });
});

test('the scrubber of a request knows the shape it injected (Basic user:pass echoed)', () => {
  const { value, standIn, send } = oneSecret(GITHUB, ['api.github.com', 'github.com']);
  const { scrubber } = send('github.com', { authorization: `Bearer ${standIn}` });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const echoed: Record<string, string> = { 'x-seen': b64(`x-access-token:${value}`), 'x-raw': value };
  scrubber!.scrubHeaders(echoed);
  assert.deepEqual(echoed, { 'x-seen': b64(`x-access-token:${standIn}`), 'x-raw': standIn });
});

test('a non-ASCII real value goes out as its UTF-8 bytes', () => {
  const ctx = setup();
  const secret = ctx.source.addSecret({ name: 'utf', value: 'pässwörd-€', auth: { type: 'api-key', header: 'x-key' }, hosts: ['api.example.com'] });
  const sandbox = ctx.source.addSandbox({ secrets: { K: secret.id } });
  const { policy, table } = ctx.start();
  const headers: IncomingHttpHeaders = { 'x-key': ctx.source.standIn(sandbox.id, 'K') };
  policy.authorizeRequest(table.identityForToken(sandbox.accessToken)!, https('api.example.com'), headers);
  assert.equal(Buffer.from(headers['x-key'] as string, 'latin1').toString('utf8'), 'pässwörd-€');
});

test('stand-ins glued to token characters in their shape are still found', () => {
  const glued = oneSecret({ type: 'api-key', header: 'x-key', prefix: 'key_' }, ['api.example.com']);
  const h1: IncomingHttpHeaders = { 'x-key': `key_${glued.standIn}` };
  assert.equal(glued.send('api.example.com', h1).matches.length, 1);
  assert.deepEqual(h1, { 'x-key': `key_${glued.value}` });

  const twice = oneSecret({ type: 'custom', headers: { 'X-Pair': '{{ value }}{{ value }}', 'X-Tag': 'id{{ value }}' } }, ['api.example.com']);
  const h2: IncomingHttpHeaders = { 'x-pair': twice.standIn + twice.standIn };
  twice.send('api.example.com', h2);
  assert.deepEqual(h2, { 'x-pair': twice.value + twice.value, 'x-tag': `id${twice.value}` });
});
