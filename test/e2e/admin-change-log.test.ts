import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDaemon, type TestDaemon } from '../helpers/harness/index.js';

/**
 * Admin changes from a real daemon at log.level info (docs/operations.md §4): one `info` line per
 * secret created, rotated or deleted, sandbox created or deleted, binding attached or detached,
 * and agent-API change, naming what changed and never a value or an access token.
 */

const VALUE = 'REAL-admin-log-value-7f3a91';
const ROTATED = 'REAL-admin-log-rotated-c02e5d';
const AGENT_VALUE = 'sk-ant-admin-log-agent-b81f44';
const PLAIN_VALUE = 'plain-admin-log-value-5d6e0a';
let daemon: TestDaemon;

before(async () => {
  daemon = await startDaemon({ flags: { 'log.level': 'info' } });
});
after(() => daemon.close());

/** The admin-change lines logged since entry `from`. */
function changes(from: number): Array<Record<string, unknown>> {
  return daemon.logs
    .entries()
    .slice(from)
    .filter((e) => typeof e.change === 'string');
}

test('secrets, sandboxes and bindings: one info line each, with names and ids, once the change succeeded', async () => {
  const from = daemon.logs.entries().length;
  assert.equal((await daemon.api('POST', '/secrets', { name: 'logged', value: VALUE, auth: { type: 'bearer' }, hosts: ['api.example.test'] })).status, 201);
  assert.equal((await daemon.api('POST', '/secrets', { name: 'other', value: VALUE, provider: 'openai' })).status, 201);
  assert.equal((await daemon.api('PATCH', '/secrets/logged', { value: ROTATED })).status, 200);
  const sandbox = (await daemon.api('POST', '/sandboxes', { name: 'logged-box', secrets: { API_TOKEN: 'logged' } })).json;
  assert.equal((await daemon.api('POST', `/sandboxes/${sandbox.id}/secrets`, { env_key: 'OPENAI_API_KEY', secret_name: 'other' })).status, 201);
  assert.equal((await daemon.api('DELETE', `/sandboxes/${sandbox.id}/secrets/OPENAI_API_KEY`)).status, 204);
  assert.equal((await daemon.api('DELETE', `/sandboxes/${sandbox.id}`)).status, 204);
  assert.equal((await daemon.api('DELETE', '/secrets/logged')).status, 204);
  // Refused changes are no changes: nothing logged for them.
  assert.equal((await daemon.api('DELETE', '/secrets/logged')).status, 404);
  assert.equal((await daemon.api('PATCH', '/secrets/missing', { value: ROTATED })).status, 404);

  const lines = changes(from);
  const secretId = lines[0]!.secret_id;
  assert.deepEqual(
    lines.map((e) => [e.level, e.msg, e.change]),
    [
      ['info', 'secret created', 'secret.created'],
      ['info', 'secret created', 'secret.created'],
      ['info', 'secret rotated', 'secret.rotated'],
      ['info', 'sandbox created', 'sandbox.created'],
      ['info', 'binding attached', 'binding.attached'],
      ['info', 'binding detached', 'binding.detached'],
      ['info', 'sandbox deleted', 'sandbox.deleted'],
      ['info', 'secret deleted', 'secret.deleted'],
    ],
  );
  assert.deepEqual(pick(lines[0]!, ['secret_name', 'auth_type', 'hosts']), { secret_name: 'logged', auth_type: 'bearer', hosts: ['api.example.test'] });
  assert.match(String(secretId), /\S/);
  assert.equal(lines[1]!.provider, 'openai');
  assert.deepEqual(pick(lines[2]!, ['secret_id', 'secret_name']), { secret_id: secretId, secret_name: 'logged' });
  assert.deepEqual(pick(lines[3]!, ['sandbox_id', 'sandbox_name', 'bindings']), {
    sandbox_id: sandbox.id,
    sandbox_name: 'logged-box',
    bindings: { API_TOKEN: 'logged' },
  });
  assert.deepEqual(pick(lines[4]!, ['sandbox_id', 'env_key', 'secret_name']), { sandbox_id: sandbox.id, env_key: 'OPENAI_API_KEY', secret_name: 'other' });
  assert.deepEqual(pick(lines[5]!, ['sandbox_id', 'env_key']), { sandbox_id: sandbox.id, env_key: 'OPENAI_API_KEY' });
  assert.equal(lines[6]!.sandbox_id, sandbox.id);
  assert.equal(lines[7]!.secret_name, 'logged');
  assert.ok(
    lines.every((e) => typeof e.reqId === 'string'),
    'each under its admin request id',
  );

  const text = daemon.logs.text;
  for (const value of [VALUE, ROTATED, sandbox.access_token]) assert.ok(!text.includes(value), 'no value or token in the log');
});

test('agent-API changes: registered, keys set (names only), key deleted, agent deleted', async () => {
  const from = daemon.logs.entries().length;
  assert.equal((await daemon.api('PUT', '/v1/agents/logged-agent', { name: 'logged-agent', command: 'run', secrets: ['ANTHROPIC_API_KEY'] })).status, 201);
  assert.equal((await daemon.api('PATCH', '/v1/agents/logged-agent/secrets', { secrets: { ANTHROPIC_API_KEY: AGENT_VALUE, PLAIN: PLAIN_VALUE } })).status, 200);
  assert.equal((await daemon.api('DELETE', '/v1/agents/logged-agent/secrets/PLAIN')).status, 200);
  assert.equal((await daemon.api('DELETE', '/v1/agents/logged-agent')).status, 204);

  const lines = changes(from);
  assert.deepEqual(
    lines.map((e) => [e.level, e.msg]),
    [
      ['info', 'agent created'],
      ['info', 'agent secrets set'],
      ['info', 'agent secret deleted'],
      ['info', 'agent deleted'],
    ],
  );
  assert.equal(lines[0]!.agent_name, 'logged-agent');
  assert.deepEqual(pick(lines[1]!, ['agent', 'keys']), { agent: 'logged-agent', keys: ['ANTHROPIC_API_KEY', 'PLAIN'] });
  assert.deepEqual(pick(lines[2]!, ['agent', 'key']), { agent: 'logged-agent', key: 'PLAIN' });
  const text = daemon.logs.text;
  for (const value of [AGENT_VALUE, PLAIN_VALUE]) assert.ok(!text.includes(value), 'no agent value in the log');
});

function pick(entry: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, entry[k]]));
}
