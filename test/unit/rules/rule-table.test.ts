import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { canonicalIp } from '../../../src/proxy/address-class.js';
import { RuleTable } from '../../../src/rules/rule-table.js';
import { basic, https, real, rejects, setup } from './policy-fixture.js';

/** Two sandboxes sharing one bearer secret; both loaded (cached) before any change. */
function shared() {
  const ctx = setup();
  const value = real('shared');
  const secret = ctx.source.addSecret({ name: 'openai', value, auth: { type: 'bearer' }, hosts: ['api.openai.com'] });
  const a = ctx.source.addSandbox({ secrets: { OPENAI_API_KEY: secret.id } });
  const b = ctx.source.addSandbox({ secrets: { OPENAI_API_KEY: secret.id, OTHER: secret.id } });
  const { policy, table } = ctx.start();
  const send = (sandboxId: string, accessToken: string, envKey = 'OPENAI_API_KEY') => {
    const headers: IncomingHttpHeaders = { authorization: `Bearer ${ctx.source.standIn(sandboxId, envKey)}` };
    policy.authorizeRequest(table.identityForToken(accessToken)!, https('api.openai.com'), headers);
    return headers.authorization;
  };
  send(a.id, a.accessToken);
  send(b.id, b.accessToken);
  return { ...ctx, policy, table, secret, value, a, b, send };
}

test('rotate: every sandbox bound to the secret uses the new value on the very next request', () => {
  const t = shared();
  const rotated = real('rotated');
  t.table.apply(t.source.rotateSecret(t.secret.id, rotated));
  assert.equal(t.send(t.a.id, t.a.accessToken), `Bearer ${rotated}`);
  assert.equal(t.send(t.b.id, t.b.accessToken, 'OTHER'), `Bearer ${rotated}`);
});

test('delete secret: its stand-ins answer 503 credential_revoked in every sandbox, never fall back', () => {
  const t = shared();
  t.table.apply(t.source.deleteSecret(t.secret.id));
  for (const sb of [t.a, t.b]) {
    const identity = t.table.identityForToken(sb.accessToken)!;
    const headers: IncomingHttpHeaders = { authorization: `Bearer ${t.source.standIn(sb.id, 'OPENAI_API_KEY')}` };
    const err = rejects(() => t.policy.authorizeRequest(identity, https('api.openai.com'), headers), 'credential_revoked');
    assert.equal(err.status, 503);
    assert.equal(err.detail, 'secret "openai" was deleted');
  }
});

test("detach: the binding answers 503 proxy_token_revoked; the sandbox's other bindings still work", () => {
  const t = shared();
  t.table.apply(t.source.detach(t.b.id, 'OPENAI_API_KEY'));
  const identity = t.table.identityForToken(t.b.accessToken)!;
  const headers: IncomingHttpHeaders = { authorization: `Bearer ${t.source.standIn(t.b.id, 'OPENAI_API_KEY')}` };
  const err = rejects(() => t.policy.authorizeRequest(identity, https('api.openai.com'), headers), 'proxy_token_revoked');
  assert.equal(err.secretId, t.secret.id);
  assert.equal(t.send(t.b.id, t.b.accessToken, 'OTHER'), `Bearer ${t.value}`);
  assert.equal(t.send(t.a.id, t.a.accessToken), `Bearer ${t.value}`);
});

test('attach after start: the new binding works on the next request', () => {
  const t = shared();
  t.table.apply(t.source.attach(t.a.id, 'LATE_KEY', t.secret.id));
  assert.equal(t.send(t.a.id, t.a.accessToken, 'LATE_KEY'), `Bearer ${t.value}`);
});

test("sandbox delete: its token stops authenticating and an open tunnel's identity gets 407", () => {
  const t = shared();
  const identity = t.table.identityForToken(t.a.accessToken)!;
  const standIn = t.source.standIn(t.a.id, 'OPENAI_API_KEY');
  t.table.apply(t.source.deleteSandbox(t.a.id));
  rejects(() => t.policy.authenticate(basic('sb', t.a.accessToken)), 'proxy_auth_required');
  rejects(() => t.policy.authorizeRequest(identity, https('api.openai.com'), {}), 'proxy_auth_required');
  rejects(() => t.policy.checkEgress(identity, 'api.openai.com'), 'proxy_auth_required');
  assert.equal(t.table.standInOwner(standIn), undefined);
  // Its stand-in is now nobody's: sandbox b forwards it untouched.
  const headers: IncomingHttpHeaders = { 'x-other': standIn };
  assert.deepEqual(t.policy.authorizeRequest(t.table.identityForToken(t.b.accessToken)!, https('api.openai.com'), headers).matches, []);
});

test('changes to sandboxes not yet loaded update the indexes without compiling them', () => {
  const ctx = setup();
  const secret = ctx.source.addSecret({ name: 's', value: real('lazy'), auth: { type: 'bearer' }, hosts: ['api.example.com'] });
  const a = ctx.source.addSandbox({ secrets: { K: secret.id } });
  const { table } = ctx.start();
  const reads = ctx.source.reads.getSecretRule;
  table.apply(ctx.source.rotateSecret(secret.id, real('lazy2')));
  assert.equal(ctx.source.reads.getSecretRule, reads, 'an uncached sandbox is not compiled by apply');
  const late = ctx.source.addSandbox({ secrets: { K: secret.id } });
  table.apply({ kind: 'sandbox', sandboxId: late.id });
  assert.equal(table.identityForToken(late.accessToken)?.sandboxId, late.id);
  assert.equal(table.standInOwner(ctx.source.standIn(late.id, 'K'))?.sandboxId, late.id);
  assert.equal(table.standInOwner(ctx.source.standIn(a.id, 'K'))?.bindingId, ctx.source.getSandboxRecord(a.id).bindings[0]!.id);
});

test('the compiled-sandbox cache is bounded; evicted sandboxes reload on use', () => {
  const ctx = setup();
  const secret = ctx.source.addSecret({ name: 's', value: real('lru'), auth: { type: 'bearer' }, hosts: ['api.example.com'] });
  const sandboxes = Array.from({ length: 5 }, () => ctx.source.addSandbox({ secrets: { K: secret.id } }));
  const table = new RuleTable(ctx.source, { maxSandboxes: 2 });
  for (const s of sandboxes) assert.ok(table.sandbox(s.id));
  const reads = ctx.source.reads.getSandbox;
  assert.ok(table.sandbox(sandboxes[4]!.id));
  assert.equal(ctx.source.reads.getSandbox, reads, 'recent sandbox served from cache');
  assert.ok(table.sandbox(sandboxes[0]!.id));
  assert.equal(ctx.source.reads.getSandbox, reads + 1, 'evicted sandbox read again');
});

test('a secret with an unusable auth config answers inject_error for its stand-ins only', () => {
  const ctx = setup();
  const good = ctx.source.addSecret({ name: 'good', value: real('good'), auth: { type: 'bearer' }, hosts: ['api.example.com'] });
  const broken = ctx.source.addSecret({ name: 'broken', value: real('broken'), auth: { type: 'api-key', header: '' }, hosts: ['api.example.com'] });
  const s = ctx.source.addSandbox({ secrets: { GOOD: good.id, BROKEN: broken.id } });
  const { policy, table } = ctx.start();
  const identity = table.identityForToken(s.accessToken)!;
  const err = rejects(() => policy.authorizeRequest(identity, https('api.example.com'), { 'x-any': ctx.source.standIn(s.id, 'BROKEN') }), 'inject_error');
  assert.equal(err.detail, 'secret "broken": api-key without header');
  assert.equal(policy.authorizeRequest(identity, https('api.example.com'), { authorization: `Bearer ${ctx.source.standIn(s.id, 'GOOD')}` }).matches.length, 1);
});

/** One secret bound to `count` sandboxes, every one of them compiled (used once) before any change. */
function widelyBound(count: number) {
  const ctx = setup();
  const secret = ctx.source.addSecret({ name: 'wide', value: real('wide'), auth: { type: 'bearer' }, hosts: ['api.example.com'] });
  const sandboxes = Array.from({ length: count }, () => ctx.source.addSandbox({ secrets: { K: secret.id } }));
  const { policy, table } = ctx.start();
  const send = (sb: (typeof sandboxes)[number]) => {
    const headers: IncomingHttpHeaders = { authorization: `Bearer ${ctx.source.standIn(sb.id, 'K')}` };
    const result = policy.authorizeRequest(table.identityForToken(sb.accessToken)!, https('api.example.com'), headers);
    return { authorization: headers.authorization, result };
  };
  for (const sb of sandboxes) send(sb);
  return { ...ctx, policy, table, secret, sandboxes, send };
}

test('rotate a secret bound to many sandboxes: one read of that secret, no sandbox read, every sandbox on the new value', () => {
  const t = widelyBound(200);
  const before = { ...t.source.reads };
  const rotated = real('wide-rotated');
  t.table.apply(t.source.rotateSecret(t.secret.id, rotated));
  assert.deepEqual(t.source.reads, { ...before, getSecretRule: before.getSecretRule + 1, revealSecret: before.revealSecret + 1 });
  for (const sb of t.sandboxes) assert.equal(t.send(sb).authorization, `Bearer ${rotated}`);
  assert.deepEqual(t.source.reads, { ...before, getSecretRule: before.getSecretRule + 1, revealSecret: before.revealSecret + 1 }, 'no request read the source');
});

test("rotate: echoes of the new value are scrubbed, the old value's forms are dropped", () => {
  const t = widelyBound(1);
  const sb = t.sandboxes[0]!;
  const standIn = t.source.standIn(sb.id, 'K');
  const rotated = real('echo-rotated');
  t.table.apply(t.source.rotateSecret(t.secret.id, rotated));
  const echoed: Record<string, string> = { 'x-echo': `got ${rotated}`, 'x-b64': Buffer.from(rotated).toString('base64') };
  t.send(sb).result.scrubber!.scrubHeaders(echoed);
  assert.deepEqual(echoed, { 'x-echo': `got ${standIn}`, 'x-b64': Buffer.from(standIn).toString('base64') });
});

test('delete a secret bound to many sandboxes: one read, every stand-in answers credential_revoked at once, also in sandboxes compiled later', () => {
  const t = widelyBound(200);
  const late = t.source.addSandbox({ secrets: { K: t.secret.id } });
  t.table.apply({ kind: 'sandbox', sandboxId: late.id });
  const before = { ...t.source.reads };
  t.table.apply(t.source.deleteSecret(t.secret.id));
  assert.deepEqual(t.source.reads, { ...before, getSecretRule: before.getSecretRule + 1 });
  for (const sb of [...t.sandboxes, late]) {
    const identity = t.table.identityForToken(sb.accessToken)!;
    const headers: IncomingHttpHeaders = { authorization: `Bearer ${t.source.standIn(sb.id, 'K')}` };
    const err = rejects(() => t.policy.authorizeRequest(identity, https('api.example.com'), headers), 'credential_revoked');
    assert.equal(err.secretId, t.secret.id, 'the refusal is audited under the deleted secret');
    // Without its stand-in the request passes untouched: a deleted binding never injects.
    assert.deepEqual(t.policy.authorizeRequest(identity, https('api.example.com'), {}).matches, []);
  }
});

test('a secret used by no compiled sandbox is not read on change; a sandbox compiled after evictions reads the fresh value', () => {
  const ctx = setup();
  const secret = ctx.source.addSecret({ name: 's', value: real('slot'), auth: { type: 'bearer' }, hosts: ['api.example.com'] });
  const other = ctx.source.addSecret({ name: 'o', value: real('other'), auth: { type: 'bearer' }, hosts: ['api.example.com'] });
  const a = ctx.source.addSandbox({ secrets: { K: secret.id } });
  const b = ctx.source.addSandbox({ secrets: { K: other.id } });
  const table = new RuleTable(ctx.source, { maxSandboxes: 1 });
  assert.ok(table.sandbox(a.id));
  assert.ok(table.sandbox(b.id), 'evicts a, and with it the only holder of secret s');
  const reads = ctx.source.reads.getSecretRule;
  const rotated = real('slot-rotated');
  table.apply(ctx.source.rotateSecret(secret.id, rotated));
  assert.equal(ctx.source.reads.getSecretRule, reads, 'nobody holds s: nothing to reload');
  assert.equal(table.sandbox(a.id)!.live[0]!.secret!.value.reveal(), rotated);
});

test("two sandboxes share one slot: replacing one sandbox's entry keeps the other's secret live", () => {
  const t = shared();
  t.table.apply(t.source.attach(t.a.id, 'LATE_KEY', t.secret.id));
  const rotated = real('shared-rotated');
  t.table.apply(t.source.rotateSecret(t.secret.id, rotated));
  assert.equal(t.send(t.b.id, t.b.accessToken), `Bearer ${rotated}`);
  assert.equal(t.send(t.a.id, t.a.accessToken, 'LATE_KEY'), `Bearer ${rotated}`);
});

test('source addresses: each identifies its sandbox, in any spelling of the address, updated by sandbox changes alone', () => {
  const ctx = setup();
  const a = ctx.source.addSandbox({ name: 'a', sourceAddresses: ['10.1.2.3', 'fd00::5'] });
  const { table } = ctx.start();
  assert.equal((table.identityForSource('10.1.2.3') as { sandboxId: string }).sandboxId, a.id);
  assert.equal((table.identityForSource(canonicalIp('::ffff:10.1.2.3')) as { sandboxId: string }).sandboxId, a.id, 'IPv4-mapped');
  assert.equal((table.identityForSource(canonicalIp('fd00:0:0:0::5')) as { sandboxId: string }).sandboxId, a.id);
  assert.equal(table.identityForSource('10.1.2.4'), 'no sandbox declares the source address 10.1.2.4');

  const reads = ctx.source.readCount;
  for (let i = 0; i < 100; i++) table.identityForSource('10.1.2.3');
  assert.equal(ctx.source.readCount, reads, 'a look-up never reads the source');

  const b = ctx.source.addSandbox({ name: 'b', sourceAddresses: ['10.1.2.4'] });
  table.apply({ kind: 'sandbox', sandboxId: b.id });
  assert.equal(ctx.source.readCount, reads + 1, 'a new sandbox is one read');
  assert.equal((table.identityForSource('10.1.2.4') as { sandboxId: string }).sandboxId, b.id);
  table.apply(ctx.source.deleteSandbox(a.id));
  assert.equal(table.identityForSource('10.1.2.3'), 'no sandbox declares the source address 10.1.2.3');
  assert.equal(table.identityForSource(canonicalIp('fd00::5')), `no sandbox declares the source address ${canonicalIp('fd00::5')}`);
  assert.equal((table.identityForSource('10.1.2.4') as { sandboxId: string }).sandboxId, b.id);
});

test('source addresses: an address two sandboxes hold identifies neither until one of them is gone', () => {
  const ctx = setup();
  const a = ctx.source.addSandbox({ sourceAddresses: ['10.9.9.9'] });
  const b = ctx.source.addSandbox({ sourceAddresses: ['10.9.9.9'] });
  const { table } = ctx.start();
  assert.equal(table.identityForSource('10.9.9.9'), '2 sandboxes declare the source address 10.9.9.9');
  table.apply(ctx.source.deleteSandbox(a.id));
  assert.equal((table.identityForSource('10.9.9.9') as { sandboxId: string }).sandboxId, b.id);
});
