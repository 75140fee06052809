import assert from 'node:assert/strict';
import { type CredproxyClient, RequestError } from '../../src/sdk/index.js';

/**
 * Every secret and sandbox method of CredproxyClient, in one flow; run against the single daemon
 * (test/e2e/sdk-client.test.ts) and a fleet control plane on PostgreSQL (test/fleet/control-api.test.ts),
 * so both serve the same wire format.
 */
export async function secretsAndSandboxesRoundTrip(client: CredproxyClient): Promise<void> {
  const secret = await client.createSecret({ name: 'sdk-secret', value: 'real-value', auth: { type: 'bearer' }, hosts: ['api.example.com'] });
  assert.equal(secret.auth_type, 'bearer');
  assert.equal((await client.getSecret('sdk-secret')).id, secret.id);
  assert.ok((await client.listSecrets()).some((s) => s.name === 'sdk-secret'));
  assert.equal((await client.rotateSecret('sdk-secret', 'new-value')).id, secret.id);
  await assert.rejects(client.createSecret({ name: 'sdk-secret', value: 'x', provider: 'openai' }), { code: 'conflict', status: 409 });

  const sandbox = await client.createSandbox({ name: 'sdk-sb', secrets: { TOKEN: 'sdk-secret' }, source_addresses: ['10.20.30.40', 'FD00::0:7'] });
  assert.match(sandbox.env.TOKEN!, /^cps_/);
  assert.deepEqual(sandbox.source_addresses, ['10.20.30.40', 'fd00::7']);
  assert.equal((await client.getSandbox(sandbox.id)).name, 'sdk-sb');
  await assert.rejects(client.createSandbox({ name: 'sdk-dup', secrets: {}, source_addresses: ['fd00::7'] }), { code: 'conflict', status: 409 });
  await assert.rejects(client.createSandbox({ name: 'sdk-sb', secrets: {} }), { code: 'conflict', status: 409, message: 'a sandbox named "sdk-sb" already exists' });
  assert.equal((await client.findSandboxByName('sdk-sb'))?.id, sandbox.id);
  assert.equal('expires_at' in sandbox, false);
  const brief = await client.createSandbox({ name: 'sdk-brief', secrets: {}, ttl: 3600 });
  assert.ok(Date.parse(brief.expires_at!) > Date.now() + 3_500_000, `expires_at ${brief.expires_at} is an hour ahead`);
  assert.equal((await client.getSandbox(brief.id)).expires_at, brief.expires_at);
  await assert.rejects(client.createSandbox({ name: 'sdk-late', secrets: {}, expires_at: '2001-01-01T00:00:00Z' }), { code: 'bad_request', message: 'expires_at must be in the future' });
  await client.deleteSandbox(brief.id);
  assert.ok((await client.listSandboxes()).some((s) => s.id === sandbox.id));
  assert.deepEqual(await client.attachSecret(sandbox.id, { env_key: 'OTHER', secret_name: 'sdk-secret' }), { env_key: 'OTHER', secret_name: 'sdk-secret' });
  assert.equal((await client.secretSandboxes('sdk-secret')).length, 2);
  // The same lists one page at a time: a second sandbox makes two pages of one.
  const second = await client.createSandbox({ name: 'sdk-sb-2', secrets: {} });
  const first = await client.listSandboxesPage({ limit: 1 });
  const rest = await client.listSandboxesPage({ limit: 1000, cursor: first.next_cursor! });
  assert.deepEqual([...first.data, ...rest.data].map((s) => s.id), (await client.listSandboxes()).map((s) => s.id));
  assert.equal(rest.has_more, false);
  const bound = await client.secretSandboxesPage('sdk-secret', { limit: 1 });
  assert.deepEqual([bound.data.length, bound.has_more], [1, true]);
  assert.ok((await client.listSecretsPage()).data.some((s) => s.name === 'sdk-secret'));
  await client.deleteSandbox(second.id);
  await client.detachSecret(sandbox.id, 'OTHER');
  assert.deepEqual(await client.secretAudit('sdk-secret', { limit: 10 }), []);
  const page = await client.sandboxNetwork(sandbox.id, { limit: 10 });
  assert.deepEqual(page.data, []);
  assert.equal(page.has_more, false);
  await client.deleteSandbox(sandbox.id);
  await client.deleteSecret('sdk-secret');
  await assert.rejects(client.getSecret('sdk-secret'), (err: RequestError) => err.code === 'not_found' && err.message === 'Secret not found');
}
