import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { CredproxyClient, RequestError } from '../../src/sdk/index.js';
import { startDaemon, type TestDaemon } from '../helpers/harness/index.js';
import { secretsAndSandboxesRoundTrip } from '../helpers/sdk-round-trip.js';

// Every CredproxyClient method against the real daemon, so the SDK's paths and shapes match the routes.

let d: TestDaemon;
let client: CredproxyClient;

before(async () => {
  d = await startDaemon();
  client = new CredproxyClient({ url: `http://${d.daemon.adminAddress}`, apiKey: d.daemon.apiKey });
});

after(() => d.close());

test('health, CA, metrics, providers', async () => {
  assert.deepEqual(await client.health(), { status: 'ok' });
  assert.match(await client.caPem(), /^-----BEGIN CERTIFICATE-----/);
  assert.match(await client.metrics(), /credproxy_/);
  const providers = await client.listProviders();
  assert.ok(providers.some((p) => p.name === 'anthropic' && p.token_shape === 'sk-ant-api03-...'));
});

test('secrets and sandboxes round trip', () => secretsAndSandboxesRoundTrip(client));

test('agents round trip', async () => {
  const agent = await client.putAgent('sdk-agent', { name: 'sdk-agent', command: 'node a.js', secrets: ['OPENAI_API_KEY'] });
  assert.deepEqual(agent.required_secrets, ['OPENAI_API_KEY']);
  await assert.rejects(client.runAgent('sdk-agent'), (err: RequestError) => err.status === 422 && (err.details?.missing as string[])[0] === 'OPENAI_API_KEY');
  assert.deepEqual(await client.setAgentSecrets('sdk-agent', { OPENAI_API_KEY: 'sk-real', PLAIN: 'p' }), { keys: ['OPENAI_API_KEY', 'PLAIN'] });
  assert.deepEqual(await client.listAgentSecrets('sdk-agent'), { keys: ['OPENAI_API_KEY', 'PLAIN'] });
  const run = await client.runAgent('sdk-agent');
  assert.equal(run.env.PLAIN, 'p');
  assert.deepEqual(await client.deleteAgentSecret('sdk-agent', 'PLAIN'), { keys: ['OPENAI_API_KEY'] });
  assert.equal((await client.getAgent('sdk-agent')).sandbox_id, run.sandbox_id);
  assert.ok((await client.listAgents()).some((a) => a.name === 'sdk-agent'));
  await client.deleteAgent('sdk-agent');
  await assert.rejects(client.getAgent('sdk-agent'), { status: 404, code: 'not_found', message: 'Agent not found' });
});

test('a wrong key is a RequestError 401 without the key in it', async () => {
  const wrong = new CredproxyClient({ url: `http://${d.daemon.adminAddress}`, apiKey: 'wrong-key-0123456789' });
  await assert.rejects(wrong.listSecrets(), (err: RequestError) => err.status === 401 && err.code === 'unauthorized' && !err.message.includes('wrong-key'));
  await assert.rejects(wrong.listAgents(), (err: RequestError) => err.status === 401 && err.message === 'Not authenticated');
});
