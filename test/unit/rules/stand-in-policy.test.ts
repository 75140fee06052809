import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { basic, https, real, rejects, setup } from './policy-fixture.js';

/** Two sandboxes, each bound to openai (bearer) and anthropic (api-key). */
function twoSandboxes(options: { requireAuth?: boolean; network?: { allow_out: string[]; deny_out: string[] } } = {}) {
  const ctx = setup(options);
  const openaiValue = real('openai');
  const anthropicValue = real('anthropic');
  const openai = ctx.source.addSecret({ name: 'openai', value: openaiValue, auth: { type: 'bearer' }, hosts: ['api.openai.com'] });
  const anthropic = ctx.source.addSecret({
    name: 'anthropic',
    value: anthropicValue,
    auth: { type: 'api-key', header: 'x-api-key' },
    hosts: ['api.anthropic.com', '*.example.com'],
  });
  const secrets = { OPENAI_API_KEY: openai.id, ANTHROPIC_API_KEY: anthropic.id };
  const a = ctx.source.addSandbox({ name: 'a', secrets, ...(options.network ? { network: options.network } : {}) });
  const b = ctx.source.addSandbox({ name: 'b', secrets });
  const { policy, table } = ctx.start();
  return {
    ...ctx,
    policy,
    table,
    openai,
    anthropic,
    openaiValue,
    anthropicValue,
    a: {
      record: a,
      identity: table.identityForToken(a.accessToken)!,
      openai: ctx.source.standIn(a.id, 'OPENAI_API_KEY'),
      anthropic: ctx.source.standIn(a.id, 'ANTHROPIC_API_KEY'),
    },
    b: { record: b, identity: table.identityForToken(b.accessToken)!, openai: ctx.source.standIn(b.id, 'OPENAI_API_KEY') },
  };
}

test('authenticate: Basic sb:<access_token> → identity; anything else 407', () => {
  const t = twoSandboxes();
  assert.deepEqual(t.policy.authenticate(basic('sb', t.a.record.accessToken)), { sandboxId: t.a.record.id, sandboxName: 'a' });
  assert.equal(t.policy.authenticate(basic('anyone', t.a.record.accessToken))?.sandboxId, t.a.record.id);
  assert.equal(t.policy.authenticate(`basic ${Buffer.from(`sb:${t.b.record.accessToken}`).toString('base64')}`)?.sandboxName, 'b');
  for (const header of [undefined, '', 'Basic', 'Bearer x', basic('sb', 'wrong-token-0123456789'), basic('sb', t.a.openai), 'Basic !!!']) {
    rejects(() => t.policy.authenticate(header), 'proxy_auth_required');
  }
});

test("unattributed mode: no or invalid Proxy-Authorization → null; stand-ins honoured as their owner's", () => {
  const t = twoSandboxes({ requireAuth: false });
  assert.equal(t.policy.authenticate(undefined), null);
  assert.equal(t.policy.authenticate(basic('sb', 'nope-nope-nope-nope')), null);
  const headers: IncomingHttpHeaders = { authorization: `Bearer ${t.b.openai}` };
  const result = t.policy.authorizeRequest(null, https('api.openai.com'), headers);
  assert.equal(headers.authorization, `Bearer ${t.openaiValue}`);
  assert.equal(result.matches[0]?.secretId, t.openai.id);
  assert.deepEqual(result.identity, t.b.identity, "recorded under the stand-in's own sandbox");
  rejects(() => t.policy.authorizeRequest(null, https('api.evil.com'), { authorization: `Bearer ${t.a.openai}` }), 'credential_host_mismatch');
  t.policy.checkEgress(null, 'anywhere.example');
  assert.equal(t.policy.authorizeRequest(null, https('api.openai.com'), { accept: '*/*' }).identity, undefined);
});

test("unattributed mode: a stand-in only goes under its own sandbox's network rules, never beside another sandbox's", () => {
  const t = twoSandboxes({ requireAuth: false, network: { allow_out: ['*.example.com'], deny_out: [] } });
  const headers: IncomingHttpHeaders = { authorization: `Bearer ${t.a.openai}` };
  const err = rejects(() => t.policy.authorizeRequest(null, https('api.openai.com'), headers), 'host_not_allowed');
  assert.equal(err.secretId, t.openai.id);
  assert.equal(headers.authorization, `Bearer ${t.a.openai}`, 'nothing injected');
  assert.equal(t.policy.authorizeRequest(null, https('x.example.com'), { 'x-api-key': t.a.anthropic }).matches.length, 1);
  rejects(
    () => t.policy.authorizeRequest(null, https('api.openai.com'), { authorization: `Bearer ${t.b.openai}`, 'x-api-key': t.a.anthropic }),
    'stand_in_wrong_sandbox',
  );
});

test('a request without stand-ins passes unchanged', () => {
  const t = twoSandboxes();
  const headers: IncomingHttpHeaders = {
    authorization: 'Bearer some-token-of-the-client-0123',
    'user-agent': 'curl/8.5.0',
    cookie: 'session=abcdefghijklmnopqrstuvwxyz',
  };
  const before = structuredClone(headers);
  const result = t.policy.authorizeRequest(t.a.identity, https('api.openai.com'), headers);
  assert.deepEqual(result, { matches: [], scrubber: undefined });
  assert.deepEqual(headers, before);
});

test('host mismatch → 403 credential_host_mismatch with the rule explained, nothing changed', () => {
  const t = twoSandboxes();
  const headers: IncomingHttpHeaders = { authorization: `Bearer ${t.a.openai}`, 'x-api-key': t.a.anthropic };
  const before = structuredClone(headers);
  const err = rejects(() => t.policy.authorizeRequest(t.a.identity, https('api.evil.com'), headers), 'credential_host_mismatch');
  assert.equal(err.status, 403);
  assert.equal(err.detail, 'secret "openai" allows api.openai.com, not api.evil.com');
  assert.equal(err.secretId, t.openai.id);
  assert.deepEqual(headers, before);
});

test('secret hosts: *.example.com takes exactly one label, case-insensitively', () => {
  const t = twoSandboxes();
  const send = (host: string) => t.policy.authorizeRequest(t.a.identity, https(host), { 'x-api-key': t.a.anthropic });
  assert.equal(send('a.example.com').matches.length, 1);
  assert.equal(send('A.Example.COM').matches.length, 1);
  const err = rejects(() => send('example.com'), 'credential_host_mismatch');
  assert.equal(err.detail, 'secret "anthropic" allows api.anthropic.com, *.example.com, not example.com');
  rejects(() => send('a.b.example.com'), 'credential_host_mismatch');
});

test('a stand-in of another sandbox → 403 stand_in_wrong_sandbox wherever it hides, never forwarded', () => {
  const t = twoSandboxes();
  const cases: IncomingHttpHeaders[] = [
    { authorization: `Bearer ${t.b.openai}` },
    { 'x-smuggle': `prefix ${t.b.openai} suffix` },
    { authorization: basic('user', `x:${t.b.openai}`) },
    { authorization: `Bearer ${t.a.openai}`, cookie: `k=${t.b.openai}` },
  ];
  for (const headers of cases) {
    const before = structuredClone(headers);
    const err = rejects(() => t.policy.authorizeRequest(t.a.identity, https('api.openai.com'), headers), 'stand_in_wrong_sandbox');
    assert.equal(err.secretId, t.openai.id);
    assert.deepEqual(headers, before);
  }
});

test('cleartext → 403 cleartext_injection_refused, nothing changed', () => {
  const t = twoSandboxes();
  const headers: IncomingHttpHeaders = { authorization: `Bearer ${t.a.openai}` };
  const err = rejects(
    () => t.policy.authorizeRequest(t.a.identity, { host: 'api.openai.com', port: 80, secure: false }, headers),
    'cleartext_injection_refused',
  );
  assert.equal(err.secretId, t.openai.id);
  assert.deepEqual(headers, { authorization: `Bearer ${t.a.openai}` });
});

/** Two secrets for api.example.com, one bearer and one x-two api-key, with their real values. */
function twoSecretsOnOneHost(ctx: ReturnType<typeof setup>) {
  const v1 = real('one');
  const v2 = real('two');
  const s1 = ctx.source.addSecret({ name: 'one', value: v1, auth: { type: 'bearer' }, hosts: ['api.example.com'] });
  const s2 = ctx.source.addSecret({ name: 'two', value: v2, auth: { type: 'api-key', header: 'x-two' }, hosts: ['api.example.com'] });
  return { v1, v2, s1, s2 };
}

test('several stand-ins in one request are all swapped', () => {
  const ctx = setup();
  const { v1, v2, s1, s2 } = twoSecretsOnOneHost(ctx);
  const sandbox = ctx.source.addSandbox({ secrets: { ONE: s1.id, TWO: s2.id, TWO_AGAIN: s2.id } });
  const { policy, table } = ctx.start();
  const headers: IncomingHttpHeaders = {
    authorization: `Bearer ${ctx.source.standIn(sandbox.id, 'ONE')}`,
    'x-two': ctx.source.standIn(sandbox.id, 'TWO_AGAIN'),
  };
  const result = policy.authorizeRequest(table.identityForToken(sandbox.accessToken)!, https('api.example.com'), headers);
  assert.deepEqual(headers, { authorization: `Bearer ${v1}`, 'x-two': v2 });
  assert.deepEqual(
    result.matches.map((m) => m.secretName),
    ['one', 'two'],
  );
  const echoed: Record<string, string> = { 'x-echo': `${v1} and ${v2}` };
  result.scrubber!.scrubHeaders(echoed);
  assert.equal(echoed['x-echo'], `${ctx.source.standIn(sandbox.id, 'ONE')} and ${ctx.source.standIn(sandbox.id, 'TWO_AGAIN')}`);
});

test('an own stand-in outside its shape: swapped in place to an allowed host, refused elsewhere, never forwarded as is', () => {
  const t = twoSandboxes();
  const send = (host: string, headers: IncomingHttpHeaders) => t.policy.authorizeRequest(t.a.identity, https(host), headers);

  // In its shape and copied into another header: both places get the real value.
  const both: IncomingHttpHeaders = { authorization: `Bearer ${t.a.openai}`, 'x-debug': `key=${t.a.openai}` };
  const result = send('api.openai.com', both);
  assert.deepEqual(both, { authorization: `Bearer ${t.openaiValue}`, 'x-debug': `key=${t.openaiValue}` });
  assert.deepEqual(
    result.matches.map((m) => m.authType),
    ['bearer', 'in_place'],
  );

  // One header carrying two secrets' stand-ins goes nowhere unless both allow the host.
  const shared: IncomingHttpHeaders = { cookie: `o=${t.a.openai}; a=${t.a.anthropic}` };
  const err = rejects(() => send('api.anthropic.com', shared), 'credential_host_mismatch');
  assert.equal(err.secretId, t.openai.id);
  assert.deepEqual(shared, { cookie: `o=${t.a.openai}; a=${t.a.anthropic}` });

  for (const [host, headers] of [
    ['api.evil.com', { 'x-api-key': t.a.openai }],
    ['api.evil.com', { authorization: `token ${t.a.openai}` }],
    ['api.openai.com', { 'x-forward': t.a.anthropic }],
  ] as Array<[string, IncomingHttpHeaders]>) {
    const before = structuredClone(headers);
    const err = rejects(() => send(host, headers), 'credential_host_mismatch');
    assert.match(err.detail!, /allows .*, not /);
    assert.deepEqual(headers, before, 'nothing changed');
  }
  const plain: IncomingHttpHeaders = { 'x-api-key': t.a.openai };
  rejects(() => t.policy.authorizeRequest(t.a.identity, { host: 'api.openai.com', port: 80, secure: false }, plain), 'cleartext_injection_refused');
  assert.deepEqual(plain, { 'x-api-key': t.a.openai });
});

test('in-place swaps: several stand-ins in one header, and the echo of each is scrubbed', () => {
  const ctx = setup();
  const { v1, v2, s1, s2 } = twoSecretsOnOneHost(ctx);
  const sandbox = ctx.source.addSandbox({ secrets: { ONE: s1.id, TWO: s2.id } });
  const { policy, table } = ctx.start();
  const one = ctx.source.standIn(sandbox.id, 'ONE');
  const two = ctx.source.standIn(sandbox.id, 'TWO');
  const headers: IncomingHttpHeaders = { cookie: `one=${one}; two=${two}; again=${one}` };
  const result = policy.authorizeRequest(table.identityForToken(sandbox.accessToken)!, https('api.example.com'), headers);
  assert.deepEqual(headers, { cookie: `one=${v1}; two=${v2}; again=${v1}` });
  assert.deepEqual(
    result.matches.map((m) => [m.secretName, m.authType]),
    [
      ['one', 'in_place'],
      ['two', 'in_place'],
    ],
  );
  const echoed: Record<string, string> = { 'x-echo': headers.cookie!, 'x-b64': Buffer.from(`k ${v2}`).toString('base64') };
  result.scrubber!.scrubHeaders(echoed);
  assert.equal(echoed['x-echo'], `one=${one}; two=${two}; again=${one}`);
  assert.ok(!Buffer.from(echoed['x-b64']!, 'base64').toString('latin1').includes(v2.slice(2, -2)), 'base64 echo scrubbed');
});

test('provider alternates: an anthropic secret takes x-api-key and Authorization: Bearer, each swapped in its own shape', () => {
  const ctx = setup();
  const value = real('anthropic');
  const secret = ctx.source.addSecret({
    name: 'claude',
    value,
    auth: { type: 'api-key', header: 'x-api-key' },
    hosts: ['api.anthropic.com'],
    provider: 'anthropic',
  });
  const sandbox = ctx.source.addSandbox({ secrets: { ANTHROPIC_API_KEY: secret.id } });
  const { policy, table } = ctx.start();
  const identity = table.identityForToken(sandbox.accessToken)!;
  const standIn = ctx.source.standIn(sandbox.id, 'ANTHROPIC_API_KEY');

  const v0: IncomingHttpHeaders = { 'x-api-key': standIn };
  assert.deepEqual(policy.authorizeRequest(identity, https('api.anthropic.com'), v0).matches[0], {
    secretId: secret.id,
    secretName: 'claude',
    authType: 'api-key',
    rule: 'secret "claude" allows api.anthropic.com (api-key)',
  });
  assert.deepEqual(v0, { 'x-api-key': value });

  const v1: IncomingHttpHeaders = { authorization: `Bearer ${standIn}` };
  assert.deepEqual(policy.authorizeRequest(identity, https('api.anthropic.com'), v1).matches[0], {
    secretId: secret.id,
    secretName: 'claude',
    authType: 'bearer',
    rule: 'secret "claude" allows api.anthropic.com (bearer, also accepted by anthropic)',
  });
  assert.deepEqual(v1, { authorization: `Bearer ${value}` });
  rejects(() => policy.authorizeRequest(identity, https('api.openai.com'), { authorization: `Bearer ${standIn}` }), 'credential_host_mismatch');
});

test('two credentials aimed at one header → inject_error, nothing changed', () => {
  const ctx = setup();
  const s1 = ctx.source.addSecret({ name: 'one', value: real('c1'), auth: { type: 'bearer' }, hosts: ['api.example.com'] });
  const s2 = ctx.source.addSecret({
    name: 'two',
    value: real('c2'),
    auth: { type: 'custom', headers: { 'X-Two': '{{ value }}', Authorization: 'Two {{ value }}' } },
    hosts: ['api.example.com'],
  });
  const sandbox = ctx.source.addSandbox({ secrets: { ONE: s1.id, TWO: s2.id } });
  const { policy, table } = ctx.start();
  const headers: IncomingHttpHeaders = { authorization: `Bearer ${ctx.source.standIn(sandbox.id, 'ONE')}`, 'x-two': ctx.source.standIn(sandbox.id, 'TWO') };
  const before = structuredClone(headers);
  rejects(() => policy.authorizeRequest(table.identityForToken(sandbox.accessToken)!, https('api.example.com'), headers), 'inject_error');
  assert.deepEqual(headers, before);
});

test('a real value with CR or LF → 502 inject_error; the value is in no error', () => {
  for (const value of [`${real('crlf')}\r\nX-Evil: 1`, `${real('lf')}\nX`, `${real('cr')}\r`]) {
    const ctx = setup();
    const secret = ctx.source.addSecret({ name: 'bad', value, auth: { type: 'bearer' }, hosts: ['api.example.com'] });
    const sandbox = ctx.source.addSandbox({ secrets: { BAD: secret.id } });
    const { policy, table } = ctx.start();
    const headers: IncomingHttpHeaders = { authorization: `Bearer ${ctx.source.standIn(sandbox.id, 'BAD')}` };
    const before = structuredClone(headers);
    const err = rejects(() => policy.authorizeRequest(table.identityForToken(sandbox.accessToken)!, https('api.example.com'), headers), 'inject_error');
    assert.equal(err.status, 502);
    assert.ok(!err.message.includes(value) && !String(err.detail).includes(value));
    assert.deepEqual(headers, before);
  }
});

test('network policy: checkEgress throws host_not_allowed / host_denied with the rule explained', () => {
  const t = twoSandboxes({ network: { allow_out: ['api.openai.com'], deny_out: ['0.0.0.0/0'] } });
  t.policy.checkEgress(t.a.identity, 'api.openai.com');
  assert.equal(t.policy.egressDecision(t.a.identity, 'api.openai.com').explain(), 'network.allow_out api.openai.com');
  const err = rejects(() => t.policy.checkEgress(t.a.identity, 'api.anthropic.com'), 'host_not_allowed');
  assert.equal(err.detail, 'network.allow_out (api.openai.com) does not include api.anthropic.com');
  t.policy.checkEgress(t.b.identity, 'api.anthropic.com');
  t.source.setNetwork(t.b.record.id, { allow_out: [], deny_out: ['203.0.113.0/24'] });
  t.table.apply({ kind: 'sandbox', sandboxId: t.b.record.id });
  rejects(() => t.policy.checkEgress(t.b.identity, '203.0.113.5'), 'host_denied');
});

test('hot path: after a sandbox is loaded, requests never read the source', () => {
  const t = twoSandboxes();
  const readsAtStart = t.source.readCount;
  t.policy.authorizeRequest(t.a.identity, https('api.openai.com'), { authorization: `Bearer ${t.a.openai}` });
  const afterLoad = t.source.readCount;
  assert.ok(afterLoad > readsAtStart, 'first use loads the sandbox');
  for (let i = 0; i < 50; i++) {
    t.policy.authorizeRequest(t.a.identity, https('api.openai.com'), { authorization: `Bearer ${t.a.openai}` });
    t.policy.authenticate(basic('sb', t.a.record.accessToken));
    t.policy.checkEgress(t.a.identity, 'api.openai.com');
    rejects(() => t.policy.authenticate(basic('sb', `unknown-${i}-token-xxxxxxxx`)), 'proxy_auth_required');
  }
  assert.equal(t.source.readCount, afterLoad);
});

test('a refused request names every secret whose stand-in it carried, the cause first', () => {
  const t = twoSandboxes();
  // anthropic's hosts include *.example.com, openai's do not: openai's stand-in causes the refusal.
  const headers: IncomingHttpHeaders = { authorization: `Bearer ${t.a.openai}`, 'x-api-key': t.a.anthropic };
  const err = rejects(() => t.policy.authorizeRequest(t.a.identity, https('x.example.com'), headers), 'credential_host_mismatch');
  assert.equal(err.secretId, t.openai.id);
  assert.deepEqual(err.secretIds, [t.openai.id, t.anthropic.id]);
  const foreign = rejects(
    () => t.policy.authorizeRequest(t.a.identity, https('api.openai.com'), { authorization: `Bearer ${t.b.openai}`, 'x-api-key': t.a.anthropic }),
    'stand_in_wrong_sandbox',
  );
  assert.deepEqual(new Set(foreign.secretIds), new Set([t.openai.id, t.anthropic.id]));
});

test("a stand-in of a deleted secret is refused under that secret's id", () => {
  const t = twoSandboxes();
  t.table.apply(t.source.deleteSecret(t.openai.id));
  const err = rejects(() => t.policy.authorizeRequest(t.a.identity, https('api.openai.com'), { authorization: `Bearer ${t.a.openai}` }), 'credential_revoked');
  assert.deepEqual(err.secretIds, [t.openai.id]);
});

test('identifyTransparent: by source address when no sandbox is bound; unknown sources 407 naming the address, whatever requireAuth says', () => {
  for (const requireAuth of [true, false]) {
    const ctx = setup({ requireAuth });
    const secret = ctx.source.addSecret({ name: 'openai', value: real('transparent'), auth: { type: 'bearer' }, hosts: ['api.openai.com'] });
    const a = ctx.source.addSandbox({ name: 'a', secrets: { K: secret.id }, sourceAddresses: ['10.0.0.2'] });
    const b = ctx.source.addSandbox({ name: 'b', secrets: { K: secret.id }, sourceAddresses: ['10.0.0.3'] });
    const { policy } = ctx.start();
    assert.equal(policy.identifyTransparent(undefined, '10.0.0.2').sandboxId, a.id);
    assert.equal(policy.identifyTransparent(undefined, '10.0.0.3').sandboxId, b.id);
    const unknown = rejects(() => policy.identifyTransparent(undefined, '10.0.0.4'), 'proxy_auth_required');
    assert.equal(unknown.detail, 'no sandbox declares the source address 10.0.0.4 in source_addresses, and transparent.sandbox is not set');
    rejects(() => policy.identifyTransparent(undefined, undefined), 'proxy_auth_required');
    // A bound listener belongs to its sandbox, whoever the source is.
    assert.equal(policy.identifyTransparent('b', '10.0.0.2').sandboxId, b.id);
    // Sandbox a's identity by source does not make b's stand-in its own.
    const headers: IncomingHttpHeaders = { authorization: `Bearer ${ctx.source.standIn(b.id, 'K')}` };
    rejects(() => policy.authorizeRequest(policy.identifyTransparent(undefined, '10.0.0.2'), https('api.openai.com'), headers), 'stand_in_wrong_sandbox');
  }
});

test('expiry: a sandbox past expires_at → 407 sandbox_expired at authenticate, per request on an open tunnel, and in transparent and unattributed mode', (t) => {
  const ctx = setup({ requireAuth: false });
  const secret = ctx.source.addSecret({ name: 'openai', value: real('openai'), auth: { type: 'bearer' }, hosts: ['api.openai.com'] });
  const expiresAt = new Date(Date.now() + 60_000);
  const sandbox = ctx.source.addSandbox({ name: 'brief', secrets: { TOKEN: secret.id }, sourceAddresses: ['10.0.0.9'], expiresAt: expiresAt.toISOString() });
  const { policy } = ctx.start();
  const standIn = ctx.source.standIn(sandbox.id, 'TOKEN');
  const identity = policy.authenticate(basic('sb', sandbox.accessToken))!;
  assert.equal(identity.expiresAt, expiresAt.getTime(), 'the identity carries the expiry as epoch ms, parsed once');
  assert.equal(policy.authorizeRequest(identity, https('api.openai.com'), { authorization: `Bearer ${standIn}` }).matches.length, 1);

  t.mock.timers.enable({ apis: ['Date'], now: expiresAt.getTime() });
  const refused = rejects(() => policy.authenticate(basic('sb', sandbox.accessToken)), 'sandbox_expired');
  assert.match(refused.detail!, /sandbox "brief" expired at /);
  rejects(() => policy.authorizeRequest(identity, https('api.openai.com'), { authorization: `Bearer ${standIn}` }), 'sandbox_expired');
  rejects(() => policy.checkEgress(identity, 'api.openai.com'), 'sandbox_expired');
  rejects(() => policy.identifyTransparent('brief', undefined), 'sandbox_expired');
  rejects(() => policy.identifyTransparent(undefined, '10.0.0.9'), 'sandbox_expired');
  rejects(() => policy.authorizeRequest(null, https('api.openai.com'), { authorization: `Bearer ${standIn}` }), 'sandbox_expired');
});
