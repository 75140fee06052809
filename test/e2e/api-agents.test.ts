import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/harness/index.js';

// Agent-secrets API (docs/contract.md#agent-api) and agent registration/run against the real daemon.

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
});

after(async () => {
  await d.close();
});

const REAL_ANTHROPIC = 'sk-ant-REAL-canary-0123456789';
const REAL_DB = 'postgresql://user:canary-pw@db/app';

test('PATCH creates the agent, returns every key sorted; GET lists keys', async () => {
  let res = await d.api('PATCH', '/v1/agents/seed-agent/secrets', { secrets: { DATABASE_URL: REAL_DB, ANTHROPIC_API_KEY: REAL_ANTHROPIC } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { keys: ['ANTHROPIC_API_KEY', 'DATABASE_URL'] });

  res = await d.api('PATCH', '/v1/agents/seed-agent/secrets', { secrets: { EXISTING_SECRET: 'x' } });
  assert.deepEqual(res.json, { keys: ['ANTHROPIC_API_KEY', 'DATABASE_URL', 'EXISTING_SECRET'] });

  res = await d.api('GET', '/v1/agents/seed-agent/secrets');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { keys: ['ANTHROPIC_API_KEY', 'DATABASE_URL', 'EXISTING_SECRET'] });
  assert.ok(!res.text.includes('canary'));

  const agent = await d.api('GET', '/v1/agents/seed-agent');
  assert.equal(agent.status, 200);
  assert.match(agent.json.id, /^agt_[0-9a-f]{24}$/);
  assert.deepEqual(agent.json.secrets, [
    { key: 'ANTHROPIC_API_KEY', kind: 'provider' },
    { key: 'DATABASE_URL', kind: 'plain' },
    { key: 'EXISTING_SECRET', kind: 'plain' },
  ]);
  // The agent is reachable by id as well as by name.
  const byId = await d.api('GET', `/v1/agents/${agent.json.id}/secrets`);
  assert.deepEqual(byId.json.keys, ['ANTHROPIC_API_KEY', 'DATABASE_URL', 'EXISTING_SECRET']);

  // The provider key became an anthropic secret with a deterministic name.
  const secret = await d.api('GET', '/secrets/agent_seed-agent_ANTHROPIC_API_KEY');
  assert.equal(secret.status, 200);
  assert.equal(secret.json.provider_shortcut, 'anthropic');
  assert.deepEqual(secret.json.hosts, ['api.anthropic.com']);
});

test('errors use {status, detail, details}: 401, 404, 422', async () => {
  let res = await d.api('GET', '/v1/agents/seed-agent/secrets', undefined, { 'x-api-key': 'wrong-key-wrong-key' });
  assert.equal(res.status, 401);
  assert.deepEqual(res.json, { status: 401, detail: 'Not authenticated', details: {} });

  res = await d.api('GET', '/v1/agents/nobody/secrets');
  assert.equal(res.status, 404);
  assert.equal(res.json.status, 404);
  assert.equal(res.json.detail, 'Agent not found');
  assert.equal(res.json.details.code, 'agent_not_found');

  res = await d.api('PATCH', '/v1/agents/seed-agent/secrets', { secrets: { 'BAD-KEY': 'v' } });
  assert.equal(res.status, 422);
  assert.equal(res.json.detail, 'Invalid secret format');
  assert.equal(res.json.details.key, 'BAD-KEY');

  res = await d.api('PATCH', '/v1/agents/seed-agent/secrets', { secrets: { GOOD: 42 } });
  assert.equal(res.status, 422);
  res = await d.api('PATCH', '/v1/agents/seed-agent/secrets', { nope: {} });
  assert.equal(res.status, 422);
  res = await d.api('PATCH', '/v1/agents/bad%20name/secrets', { secrets: { A: 'b' } });
  assert.equal(res.status, 422);
  assert.equal(res.json.detail, 'Invalid agent name');

  res = await d.api('DELETE', '/v1/agents/seed-agent/secrets/NOPE');
  assert.equal(res.status, 404);
  assert.equal(res.json.detail, 'Secret not found');
  assert.deepEqual(res.json.details, { code: 'secret_not_found', key: 'NOPE' });
  res = await d.api('DELETE', '/v1/agents/nobody/secrets/NOPE');
  assert.equal(res.json.detail, 'Agent not found');
  assert.equal(res.json.details.code, 'agent_not_found');
});

test('PUT registers from an agent file; run refuses until required secrets are set', async () => {
  let res = await d.api('PUT', '/v1/agents/runner', { name: 'runner', command: 'node agent.js', secrets: ['OPENAI_API_KEY', 'API_TOKEN'] });
  assert.equal(res.status, 201);
  assert.deepEqual(res.json.required_secrets, ['OPENAI_API_KEY', 'API_TOKEN']);
  assert.equal(res.json.command, 'node agent.js');

  res = await d.api('PUT', '/v1/agents/runner', { name: 'runner', command: 'node agent.js', secrets: 'OPENAI_API_KEY' });
  assert.equal(res.status, 422);
  assert.match(res.json.details.problem, /secrets must be a list/);
  res = await d.api('PUT', '/v1/agents/other', { name: 'runner' });
  assert.equal(res.status, 422);

  res = await d.api('POST', '/v1/agents/runner/run');
  assert.equal(res.status, 422);
  assert.equal(res.json.detail, 'Missing required secret(s): OPENAI_API_KEY, API_TOKEN');
  assert.deepEqual(res.json.details, { missing: ['OPENAI_API_KEY', 'API_TOKEN'] });

  await d.api('PATCH', '/v1/agents/runner/secrets', { secrets: { OPENAI_API_KEY: 'sk-REAL-openai-canary', API_TOKEN: 'plain-canary' } });
  res = await d.api('POST', '/v1/agents/runner/run');
  assert.equal(res.status, 200);
  const { sandbox_id: sandboxId, env } = res.json;
  assert.match(env.OPENAI_API_KEY, /^sk-proj-[A-Za-z0-9]{64}$/);
  assert.equal(env.API_TOKEN, 'plain-canary');
  assert.match(env.HTTPS_PROXY, new RegExp(`^http://sb:[A-Za-z0-9_-]+@${d.daemon.proxyAddress.replace(/\./g, '\\.')}$`));
  assert.equal(env.NODE_EXTRA_CA_CERTS, join(d.config.dataDir, 'ca-bundle.pem'));
  assert.ok(!JSON.stringify(env).includes('sk-REAL-openai-canary'));

  // The sandbox is reused, and it holds only the stand-in (never the plain value).
  const again = await d.api('POST', '/v1/agents/runner/run');
  assert.equal(again.json.sandbox_id, sandboxId);
  assert.equal(again.json.env.OPENAI_API_KEY, env.OPENAI_API_KEY);
  const sandbox = await d.api('GET', `/sandboxes/${sandboxId}`);
  assert.deepEqual(sandbox.json.secrets, [{ env_key: 'OPENAI_API_KEY', secret_name: 'agent_runner_OPENAI_API_KEY', revoked: false }]);
  assert.equal(sandbox.json.env.API_TOKEN, undefined);

  // Rotating keeps the stand-in; a new provider key is bound into the running sandbox.
  await d.api('PATCH', '/v1/agents/runner/secrets', { secrets: { OPENAI_API_KEY: 'sk-REAL-rotated', GITHUB_TOKEN: 'ghp_REAL' } });
  const third = await d.api('POST', '/v1/agents/runner/run');
  assert.equal(third.json.env.OPENAI_API_KEY, env.OPENAI_API_KEY);
  assert.match(third.json.env.GITHUB_TOKEN, /^ghp_/);

  // Which kind a key is follows from its name alone: a provider key stays proxied when set again.
  await d.api('PATCH', '/v1/agents/runner/secrets', { secrets: { GITHUB_TOKEN: 'ghp_REAL_2' } });
  const fourth = await d.api('POST', '/v1/agents/runner/run');
  assert.equal(fourth.json.env.GITHUB_TOKEN, third.json.env.GITHUB_TOKEN);
});

test('DELETE key removes its secret and binding; DELETE agent removes everything', async () => {
  await d.api('PATCH', '/v1/agents/gone/secrets', { secrets: { ANTHROPIC_API_KEY: 'sk-ant-REAL-x', PLAIN: 'p' } });
  const run = await d.api('POST', '/v1/agents/gone/run');
  const sandboxId = run.json.sandbox_id;

  let res = await d.api('DELETE', '/v1/agents/gone/secrets/ANTHROPIC_API_KEY');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { keys: ['PLAIN'] });
  assert.equal((await d.api('GET', '/secrets/agent_gone_ANTHROPIC_API_KEY')).status, 404);
  const sandbox = await d.api('GET', `/sandboxes/${sandboxId}`);
  assert.deepEqual(sandbox.json.secrets, []);

  // Setting it again makes a fresh secret and binding.
  await d.api('PATCH', '/v1/agents/gone/secrets', { secrets: { ANTHROPIC_API_KEY: 'sk-ant-REAL-y' } });
  const rerun = await d.api('POST', '/v1/agents/gone/run');
  assert.equal(rerun.json.sandbox_id, sandboxId);
  assert.match(rerun.json.env.ANTHROPIC_API_KEY, /^sk-ant-api03-/);

  const list = await d.api('GET', '/v1/agents');
  assert.ok(list.json.some((a: { name: string }) => a.name === 'gone'));

  res = await d.api('DELETE', '/v1/agents/gone');
  assert.equal(res.status, 204);
  assert.equal((await d.api('GET', '/v1/agents/gone')).status, 404);
  assert.equal((await d.api('GET', `/sandboxes/${sandboxId}`)).status, 404);
  assert.equal((await d.api('GET', '/secrets/agent_gone_ANTHROPIC_API_KEY')).status, 404);
});

test('secret values never reach the database file in cleartext', () => {
  const files = readdirSync(d.config.dataDir).filter((f) => f.startsWith('credproxy.db'));
  const bytes = Buffer.concat(files.map((f) => readFileSync(join(d.config.dataDir, f))));
  for (const canary of [REAL_ANTHROPIC, REAL_DB, 'plain-canary', 'sk-REAL-openai-canary', 'ghp_REAL_2']) {
    assert.equal(bytes.includes(canary), false, `${canary} found in the database`);
  }
  assert.ok(!d.logs.text.includes('canary'));
});
