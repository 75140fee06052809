import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretCipher } from '../../../src/secrets/crypto.js';
import { AgentsRepository } from '../../../src/store/agents.js';
import { DATABASE_FILE, openStore, type Store } from '../../../src/store/index.js';

const PLAIN = 'PLANTED-plain-agent-value-5e6f';

function setup(t: { after: (fn: () => void) => void }): { dir: string; store: Store; agents: AgentsRepository } {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-agents-'));
  const cipher = new SecretCipher(randomBytes(32));
  const store = openStore({ dataDir: dir, cipher });
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, store, agents: new AgentsRepository(store.db, cipher) };
}

test('agents: create, find by id or name, update, list by name', (t) => {
  const { agents } = setup(t);
  const b = agents.create({ name: 'b-agent', command: null, requiredSecrets: [] });
  const a = agents.create({ name: 'a-agent', command: 'node a.js', requiredSecrets: ['X', 'Y'] });
  assert.match(a.id, /^agt_[0-9a-f]{24}$/);
  assert.deepEqual(agents.find(a.id), a);
  assert.deepEqual(agents.find('a-agent'), a);
  assert.equal(agents.find('nobody'), undefined);
  assert.deepEqual(
    agents.list().map((x) => x.name),
    ['a-agent', 'b-agent'],
  );
  const updated = agents.update(b.id, { name: 'b-renamed', command: 'run', requiredSecrets: ['Z'] });
  assert.equal(updated.name, 'b-renamed');
  assert.deepEqual(updated.requiredSecrets, ['Z']);
  assert.throws(() => agents.create({ name: 'a-agent', command: null, requiredSecrets: [] }), /UNIQUE/);
});

test('agent keys: plain values sealed per agent and key; provider keys follow their secret', (t) => {
  const { dir, store, agents } = setup(t);
  const agent = agents.create({ name: 'x', command: null, requiredSecrets: [] });
  agents.putPlainKey(agent.id, 'DATABASE_URL', PLAIN);
  const secret = store.secrets.create({
    name: 'agent_x_OPENAI_API_KEY',
    value: 'v',
    provider: 'openai',
    authType: 'bearer',
    authConfig: {},
    hosts: ['api.openai.com'],
  });
  agents.putProviderKey(agent.id, 'OPENAI_API_KEY', secret.id);
  assert.deepEqual(agents.secrets(agent.id), [
    { key: 'DATABASE_URL', kind: 'plain', secretId: null },
    { key: 'OPENAI_API_KEY', kind: 'provider', secretId: secret.id },
  ]);
  assert.equal(agents.plainValues(agent.id).get('DATABASE_URL')?.reveal(), PLAIN);
  assert.equal(String(agents.plainValues(agent.id).get('DATABASE_URL')), '[redacted]');

  // A sealed blob moved to another key does not open (AAD = agent id + key).
  store.db.prepare("UPDATE agent_secrets SET key = 'MOVED' WHERE key = 'DATABASE_URL'").run();
  assert.throws(() => agents.plainValues(agent.id), /could not be decrypted/);
  store.db.prepare("UPDATE agent_secrets SET key = 'DATABASE_URL' WHERE key = 'MOVED'").run();

  // Deleting the provider secret removes the key; deleting the agent removes the rest.
  store.secrets.delete('agent_x_OPENAI_API_KEY');
  assert.deepEqual(agents.keys(agent.id), ['DATABASE_URL']);
  assert.equal(agents.deleteKey(agent.id, 'DATABASE_URL'), true);
  assert.equal(agents.deleteKey(agent.id, 'DATABASE_URL'), false);
  agents.putPlainKey(agent.id, 'K', PLAIN);
  agents.delete(agent.id);
  assert.equal((store.db.prepare('SELECT count(*) AS n FROM agent_secrets').get() as { n: number }).n, 0);

  store.db.pragma('wal_checkpoint(TRUNCATE)');
  assert.equal(readFileSync(join(dir, DATABASE_FILE)).includes(PLAIN), false);
});

test('agent sandbox: recorded, cleared when the sandbox is deleted', (t) => {
  const { store, agents } = setup(t);
  const agent = agents.create({ name: 'y', command: null, requiredSecrets: [] });
  const sandbox = store.sandboxes.create({ name: 'agent-y', secrets: {}, env_vars: {}, network: { allow_out: [], deny_out: [] }, metadata: {} });
  agents.setSandbox(agent.id, sandbox.id);
  assert.equal(agents.find(agent.id)?.sandboxId, sandbox.id);
  store.sandboxes.delete(sandbox.id);
  assert.equal(agents.find(agent.id)?.sandboxId, null);
});
