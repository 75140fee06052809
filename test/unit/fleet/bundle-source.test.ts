import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyRejection } from '../../../src/errors.js';
import type { Bundle } from '../../../src/fleet/protocol.js';
import { RuleTable, StandInPolicy } from '../../../src/rules/index.js';
import type { SandboxRuleRecord } from '../../../src/rules/source.js';
import { BundleRuleSource } from '../../../src/sidecar/bundle-source.js';
import { FreshnessPolicy } from '../../../src/sidecar/freshness-policy.js';

const HOST = 'api.example.test';
const sandbox = (id: string, revoked: SandboxRuleRecord['bindings'][number]['revoked'] = null, secretId: string | null = 's1'): SandboxRuleRecord => ({
  id,
  name: id,
  accessToken: `token-${id}-0123456789abcdef`,
  network: { allow_out: [], deny_out: [] },
  sourceAddresses: [],
  bindings: [{ id: 1, sandboxId: id, envKey: 'TOKEN', standIn: `cps_standin_${id}_0123456789abcdefghij`, secretId, secretName: 'api', revoked }],
});
const secret = (value: string) => ({ id: 's1', name: 'api', authType: 'bearer' as const, authConfig: {}, hosts: [HOST], value });
const basic = (token: string) => `Basic ${Buffer.from(`sb:${token}`).toString('base64')}`;

function world() {
  const source = new BundleRuleSource();
  const rules = new RuleTable(source);
  const policy = new StandInPolicy(rules, { requireAuth: true });
  const take = (bundle: Bundle, ids?: string[]) => source.take(bundle, ids).forEach((c) => rules.apply(c));
  const takeSecret = (id: string, bundle: Bundle) => source.takeSecret(id, bundle).forEach((c) => rules.apply(c));
  const inject = (id: string) => {
    const identity = policy.authenticate(basic(`token-${id}-0123456789abcdef`));
    const headers: Record<string, string> = { authorization: `Bearer cps_standin_${id}_0123456789abcdefghij` };
    policy.authorizeRequest(identity, { host: HOST, port: 443, secure: true }, headers);
    return headers.authorization;
  };
  return { source, rules, policy, take, takeSecret, inject };
}

test('a bundle feeds the proxy rule table, and partial bundles apply rotate, detach and delete', () => {
  const w = world();
  w.take({ seq: 1, complete: true, sandboxes: [sandbox('a'), sandbox('b')], secrets: [secret('v1')] });
  assert.equal(w.inject('a'), 'Bearer v1');
  // Rotation: the one secret, whatever number of sandboxes bind it.
  assert.ok(w.source.holdsSecret('s1'));
  w.takeSecret('s1', { seq: 2, complete: false, sandboxes: [], secrets: [secret('v2')] });
  assert.equal(w.inject('a'), 'Bearer v2');
  assert.equal(w.inject('b'), 'Bearer v2');
  // Detach in a: its stand-in now answers proxy_token_revoked.
  w.take({ seq: 3, complete: false, sandboxes: [sandbox('a', 'proxy_token_revoked')], secrets: [] }, ['a']);
  assert.throws(
    () => w.inject('a'),
    (e: ProxyRejection) => e.code === 'proxy_token_revoked',
  );
  assert.equal(w.inject('b'), 'Bearer v2');
  // Delete of the secret: the answer to ?secret= lacks it; b's binding answers credential_revoked.
  w.takeSecret('s1', { seq: 4, complete: false, sandboxes: [], secrets: [] });
  assert.throws(
    () => w.inject('b'),
    (e: ProxyRejection) => e.code === 'credential_revoked',
  );
  assert.equal(w.source.revealSecret('s1'), undefined, 'the value is forgotten');
  // A later refetch of b (its bindings revoked by the control plane) keeps it that way.
  w.take({ seq: 4, complete: false, sandboxes: [sandbox('b', 'credential_revoked')], secrets: [] }, ['b']);
  assert.throws(
    () => w.inject('b'),
    (e: ProxyRejection) => e.code === 'credential_revoked',
  );
  // Sandbox gone from the partial answer: deleted, its token stops authenticating.
  w.take({ seq: 5, complete: false, sandboxes: [], secrets: [] }, ['a']);
  assert.throws(
    () => w.policy.authenticate(basic('token-a-0123456789abcdef')),
    (e: ProxyRejection) => e.code === 'proxy_auth_required',
  );
});

test('freshness: 503 policy_unavailable before the first bundle and once the bundle is older than the bound', () => {
  const w = world();
  w.take({ seq: 1, complete: true, sandboxes: [sandbox('a')], secrets: [secret('v1')] });
  let now = 1_000;
  const fresh = new FreshnessPolicy(w.policy, { maxAgeMs: 500, now: () => now });
  const auth = () => fresh.authenticate(basic('token-a-0123456789abcdef'));
  assert.throws(auth, (e: ProxyRejection) => e.code === 'policy_unavailable' && e.status === 503 && /no policy bundle/.test(e.message));
  fresh.heard();
  const identity = auth();
  now += 500;
  assert.deepEqual(auth(), identity, 'still within the bound');
  now += 1;
  assert.throws(auth, (e: ProxyRejection) => e.code === 'policy_unavailable');
  assert.throws(
    () => fresh.authorizeRequest(identity, { host: HOST, port: 443, secure: true }, {}),
    (e: ProxyRejection) => e.code === 'policy_unavailable',
    'a request on an open tunnel is refused too',
  );
  fresh.heard();
  assert.deepEqual(auth(), identity);
  fresh.expire();
  assert.throws(auth, (e: ProxyRejection) => e.code === 'policy_unavailable');
});
