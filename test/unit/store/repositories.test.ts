import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreChange } from '../../../src/rules/source.js';
import { SecretCipher } from '../../../src/secrets/crypto.js';
import type { SecretDefinition } from '../../../src/secrets/validate-secret.js';
import type { SandboxDefinition } from '../../../src/secrets/validate-sandbox.js';
import { DATABASE_FILE, openDatabase, openStore, type Store } from '../../../src/store/index.js';
import { MIGRATIONS } from '../../../src/store/migrations/index.js';
import { toFailure } from '../../../src/api/error-envelope.js';
import { toSecretInfo, toSecretSandboxBinding } from '../../../src/api/secret-wire.js';

/** One page holding every item these small stores have. */
const ALL = { limit: 1000 };
const PLANTED = 'PLANTED-real-credential-7f3e9c1d2b4a';
const ROTATED = 'ROTATED-real-credential-a1b2c3d4e5f6';

function bearerSecret(name: string, value = PLANTED): SecretDefinition {
  return { name, value, provider: null, authType: 'bearer', authConfig: {}, hosts: ['api.example.com'] };
}

function anthropicSecret(name: string): SecretDefinition {
  return { name, value: PLANTED, provider: 'anthropic', authType: 'api-key', authConfig: { header: 'x-api-key' }, hosts: ['api.anthropic.com'] };
}

/** The store refuses with a domain error; the API shows it as `expected` (status, envelope code, message). */
function assertRefused(act: () => unknown, expected: { code: string; message?: string; status?: number }): void {
  assert.throws(act, (err: unknown) => {
    const failure = toFailure(err);
    assert.equal(failure.internal, false);
    for (const [key, value] of Object.entries(expected)) assert.equal(failure[key as keyof typeof expected], value, key);
    return true;
  });
}

let sandboxNames = 0;

/** A sandbox of a name no other has: a live sandbox's name is taken. */
function sandboxDef(secrets: Record<string, string>, envVars: Record<string, string> = {}): SandboxDefinition {
  return { name: `sb-${++sandboxNames}`, secrets, env_vars: envVars, network: { allow_out: [], deny_out: [] }, metadata: { team: 'a' } };
}

interface Fixture {
  dir: string;
  cipher: SecretCipher;
  store: Store;
  changes: StoreChange[];
}

function setup(t: { after: (fn: () => void) => void }): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-store-'));
  const cipher = new SecretCipher(randomBytes(32));
  const store = openStore({ dataDir: join(dir, 'data'), cipher });
  const changes: StoreChange[] = [];
  store.onChange((c) => changes.push(c));
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, cipher, store, changes };
}

test('openDatabase: WAL, foreign keys, schema version, file mode 0600', (t) => {
  const { dir, store } = setup(t);
  const path = join(dir, 'data', DATABASE_FILE);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
  assert.equal(store.db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  store.secrets.create(bearerSecret('a'));
  assert.equal(statSync(`${path}-wal`).mode & 0o777, 0o600);
});

test('openDatabase: reopening runs no migration twice and keeps the data', (t) => {
  const { dir, store } = setup(t);
  store.secrets.create(bearerSecret('kept'));
  store.close();
  const db = openDatabase(join(dir, 'data', DATABASE_FILE));
  try {
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.equal((db.prepare('SELECT count(*) AS n FROM secrets').get() as { n: number }).n, 1);
  } finally {
    db.close();
  }
});

test('openDatabase: a database from a newer build is refused', (t) => {
  const { dir, store } = setup(t);
  store.db.pragma('user_version = 99');
  store.close();
  assert.throws(() => openDatabase(join(dir, 'data', DATABASE_FILE)), /newer than this build/);
});

test('secrets: create returns SecretInfo; list/get; duplicate is 409', (t) => {
  const { store } = setup(t);
  const info = toSecretInfo(store.secrets.create(anthropicSecret('anthropic-prod')));
  assert.match(info.id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(Object.keys(info), ['id', 'name', 'auth_type', 'auth_config', 'provider_shortcut', 'hosts', 'created_at', 'updated_at']);
  assert.equal(info.provider_shortcut, 'anthropic');
  assert.match(info.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(JSON.stringify(info).includes(PLANTED), false);

  const custom = toSecretInfo(store.secrets.create(bearerSecret('custom')));
  assert.equal('provider_shortcut' in custom, false);
  assert.equal('last_used_at' in custom, false);
  assert.deepEqual(
    store.secrets.listPage(ALL).items.map((s) => s.name),
    ['anthropic-prod', 'custom'],
  );
  assert.deepEqual(toSecretInfo(store.secrets.getByName('custom')!), custom);
  assert.deepEqual(toSecretInfo(store.secrets.getById(custom.id)!), custom);
  assert.equal(store.secrets.getByName('nope'), undefined);
  assertRefused(() => store.secrets.create(bearerSecret('custom')), { code: 'conflict', message: 'a secret named "custom" already exists' });
});

test('secrets: rotate changes the value the rule source reveals and emits a change', async (t) => {
  const { store, changes } = setup(t);
  const info = store.secrets.create(bearerSecret('s'));
  assert.equal(store.ruleSource.revealSecret(info.id)?.reveal(), PLANTED);
  await new Promise((resolve) => setTimeout(resolve, 5));
  const rotated = store.secrets.rotate('s', ROTATED);
  assert.notEqual(rotated.updatedAt, info.updatedAt);
  assert.equal(store.ruleSource.revealSecret(info.id)?.reveal(), ROTATED);
  assert.deepEqual(changes, [{ kind: 'secret', secretId: info.id }]);
  assertRefused(() => store.secrets.rotate('missing', ROTATED), { code: 'not_found', message: 'Secret not found' });
});

test('sandboxes: create mints a token and one stand-in per binding; missing secret fails the whole create', (t) => {
  const { store, changes } = setup(t);
  store.secrets.create(anthropicSecret('anthropic'));
  store.secrets.create(bearerSecret('custom'));
  const sb = store.sandboxes.create(sandboxDef({ ANTHROPIC_API_KEY: 'anthropic', TOKEN: 'custom', OTHER: 'custom' }, { LOG: 'debug' }));
  assert.match(sb.accessToken, /^[A-Za-z0-9_-]{22,}$/);
  assert.equal(sb.status, 'active');
  assert.deepEqual(sb.envVars, { LOG: 'debug' });
  assert.deepEqual(
    sb.bindings.map((b) => [b.envKey, b.secretName, b.revoked]),
    [
      ['ANTHROPIC_API_KEY', 'anthropic', null],
      ['TOKEN', 'custom', null],
      ['OTHER', 'custom', null],
    ],
  );
  assert.match(sb.bindings[0]!.standIn, /^sk-ant-api03-[A-Za-z0-9]{48}$/);
  assert.notEqual(sb.bindings[1]!.standIn, sb.bindings[2]!.standIn);
  assert.deepEqual(changes, [{ kind: 'sandbox', sandboxId: sb.id }]);
  assert.deepEqual(store.sandboxes.get(sb.id), sb);
  assert.deepEqual(store.sandboxes.listPage(ALL).items, [sb]);

  assertRefused(() => store.sandboxes.create(sandboxDef({ A: 'custom', B: 'ghost' })), {
    code: 'secret_not_found',
    message: 'secrets[B] references "ghost", which does not exist for this team',
  });
  assert.equal(store.sandboxes.listPage(ALL).items.length, 1);
});

test('sandboxes: attach, 409 on a bound key, detach keeps the row revoked, 404 when nothing is bound', (t) => {
  const { store, changes } = setup(t);
  store.secrets.create(bearerSecret('custom'));
  const sb = store.sandboxes.create(sandboxDef({ TOKEN: 'custom' }, { PLAIN: 'x' }));
  changes.length = 0;

  assert.deepEqual(store.sandboxes.attach(sb.id, 'SECOND', 'custom'), { env_key: 'SECOND', secret_name: 'custom' });
  assertRefused(() => store.sandboxes.attach(sb.id, 'TOKEN', 'custom'), { code: 'conflict', message: 'env-var key "TOKEN" is already bound on this sandbox' });
  assertRefused(() => store.sandboxes.attach(sb.id, 'PLAIN', 'custom'), { code: 'conflict' });
  assertRefused(() => store.sandboxes.attach(sb.id, 'NEW', 'ghost'), { code: 'secret_not_found' });
  assertRefused(() => store.sandboxes.attach('no-such-id', 'NEW', 'custom'), { code: 'not_found', message: 'Sandbox not found' });

  const standIn = store.sandboxes.get(sb.id)!.bindings[0]!.standIn;
  store.sandboxes.detach(sb.id, 'TOKEN');
  assert.deepEqual(
    store.sandboxes.get(sb.id)!.bindings.map((b) => b.envKey),
    ['SECOND'],
  );
  const rule = store.ruleSource.getSandbox(sb.id)!;
  assert.deepEqual(rule.bindings.find((b) => b.standIn === standIn)?.revoked, 'proxy_token_revoked');
  assertRefused(() => store.sandboxes.detach(sb.id, 'TOKEN'), { code: 'not_found', message: 'no secret bound under env-var key "TOKEN" on this sandbox' });

  store.sandboxes.attach(sb.id, 'TOKEN', 'custom');
  const fresh = store.sandboxes.get(sb.id)!.bindings.find((b) => b.envKey === 'TOKEN')!;
  assert.notEqual(fresh.standIn, standIn);
  assert.deepEqual(changes, Array(3).fill({ kind: 'sandbox', sandboxId: sb.id }));
});

test('sandboxes: at most 32 bindings through attach', (t) => {
  const { store } = setup(t);
  store.secrets.create(bearerSecret('custom'));
  const keys = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`K${i}`, 'custom']));
  const sb = store.sandboxes.create(sandboxDef(keys));
  assertRefused(() => store.sandboxes.attach(sb.id, 'ONE_MORE', 'custom'), { code: 'bad_request', message: 'sandbox already has the max 32 secret bindings' });
});

test('secret delete writes only its own row: its bindings then read as revoked, keep its id, and one secret change is emitted', (t) => {
  const { store, changes } = setup(t);
  const secret = store.secrets.create(bearerSecret('custom'));
  store.secrets.create(bearerSecret('other'));
  const sb = store.sandboxes.create(sandboxDef({ TOKEN: 'custom', KEEP: 'other' }));
  assert.deepEqual(store.sandboxes.bindingsOfSecret(secret.id, ALL).items.map(toSecretSandboxBinding), [
    { sandbox_id: sb.id, sandbox_name: sb.name, env_key: 'TOKEN', status: 'active' },
  ]);
  changes.length = 0;

  store.secrets.delete('custom');
  assert.equal(store.secrets.getByName('custom'), undefined);
  assert.equal(store.ruleSource.getSecretRule(secret.id), undefined);
  assert.equal(store.ruleSource.revealSecret(secret.id), undefined);
  assert.deepEqual(
    store.sandboxes.get(sb.id)!.bindings.map((b) => [b.envKey, b.revoked]),
    [
      ['TOKEN', 'credential_revoked'],
      ['KEEP', null],
    ],
  );
  const ruleBinding = store.ruleSource.getSandbox(sb.id)!.bindings[0]!;
  assert.equal(ruleBinding.secretId, secret.id);
  assert.equal(ruleBinding.revoked, 'credential_revoked');
  assert.deepEqual(changes, [{ kind: 'secret', secretId: secret.id }]);
  assert.deepEqual(store.sandboxes.bindingsOfSecret(secret.id, ALL).items, []);
  assertRefused(() => store.secrets.delete('custom'), { code: 'not_found' });

  // The key a deleted secret held can be bound again; the old stand-in then reads as detached.
  const again = store.secrets.create(bearerSecret('custom'));
  store.sandboxes.attach(sb.id, 'TOKEN', 'custom');
  assert.deepEqual(
    store.sandboxes.get(sb.id)!.bindings.map((b) => [b.envKey, b.revoked]),
    [
      ['KEEP', null],
      ['TOKEN', null],
    ],
  );
  assert.equal(store.ruleSource.getSandbox(sb.id)!.bindings[0]!.revoked, 'proxy_token_revoked');
  assert.equal(store.sandboxes.bindingsOfSecret(again.id, ALL).items.length, 1);
});

test('sandbox delete cascades bindings and the token stops resolving', (t) => {
  const { store, changes } = setup(t);
  store.secrets.create(bearerSecret('custom'));
  const sb = store.sandboxes.create(sandboxDef({ TOKEN: 'custom' }));
  changes.length = 0;
  store.sandboxes.delete(sb.id);
  assert.equal(store.sandboxes.get(sb.id), undefined);
  assert.equal(store.ruleSource.getSandbox(sb.id), undefined);
  assert.deepEqual(store.ruleSource.listSandboxes(), []);
  assert.equal((store.db.prepare('SELECT count(*) AS n FROM bindings').get() as { n: number }).n, 0);
  assert.deepEqual(changes, [{ kind: 'sandbox', sandboxId: sb.id }]);
  assertRefused(() => store.sandboxes.delete(sb.id), { code: 'not_found', message: 'Sandbox not found' });
});

test('sandboxes: source addresses are stored, read by the rule source, claimed by one sandbox at a time (409), freed by delete', (t) => {
  const { store, changes } = setup(t);
  const a = store.sandboxes.create({ ...sandboxDef({}), name: 'a', source_addresses: ['10.1.2.3', 'fd00::5'] });
  assert.deepEqual(a.sourceAddresses, ['10.1.2.3', 'fd00::5']);
  assert.deepEqual(store.sandboxes.get(a.id)!.sourceAddresses, ['10.1.2.3', 'fd00::5']);
  assert.deepEqual(store.ruleSource.getSandbox(a.id)!.sourceAddresses, ['10.1.2.3', 'fd00::5']);
  assert.deepEqual(store.sandboxes.create(sandboxDef({})).sourceAddresses, [], 'none declared');

  changes.length = 0;
  const sandboxes = store.sandboxes.listPage(ALL).items.length;
  assertRefused(() => store.sandboxes.create({ ...sandboxDef({}), source_addresses: ['10.9.9.9', 'fd00::5'] }), {
    code: 'conflict',
    status: 409,
    message: `source_addresses[1]: fd00::5 is already declared by sandbox "a" (${a.id}); an address identifies one sandbox`,
  });
  assert.equal(store.sandboxes.listPage(ALL).items.length, sandboxes, 'nothing of the refused sandbox was written');
  assert.deepEqual(changes, []);
  const b = store.sandboxes.create({ ...sandboxDef({}), source_addresses: ['10.9.9.9'] });
  assert.deepEqual(b.sourceAddresses, ['10.9.9.9'], 'the refused create claimed nothing');

  store.sandboxes.delete(a.id);
  assert.deepEqual(store.sandboxes.create({ ...sandboxDef({}), source_addresses: ['fd00::5'] }).sourceAddresses, ['fd00::5']);
});

test('rule source: records for the rule table', (t) => {
  const { store } = setup(t);
  const github = store.secrets.create({
    name: 'gh',
    value: PLANTED,
    provider: 'github',
    authType: 'per_host',
    authConfig: {
      per_host: [
        { hosts: ['api.github.com'], type: 'bearer' },
        { hosts: ['github.com'], type: 'basic', username: 'x-access-token' },
      ],
    },
    hosts: ['api.github.com', 'github.com'],
  });
  const sb = store.sandboxes.create({ ...sandboxDef({ GITHUB_TOKEN: 'gh' }), network: { allow_out: ['*.github.com'], deny_out: [] } });
  assert.deepEqual(store.ruleSource.getSecretRule(github.id), {
    id: github.id,
    name: 'gh',
    authType: 'per_host',
    authConfig: github.authConfig,
    hosts: ['api.github.com', 'github.com'],
    provider: 'github',
  });
  const [record] = store.ruleSource.listSandboxes();
  assert.equal(record!.accessToken, sb.accessToken);
  assert.deepEqual(record!.network, { allow_out: ['*.github.com'], deny_out: [] });
  assert.match(record!.bindings[0]!.standIn, /^ghp_[A-Za-z0-9]{36}$/);
  assert.deepEqual(store.ruleSource.getSandbox(sb.id), record);
});

test('the database files never contain a planted value in cleartext', (t) => {
  const { dir, store } = setup(t);
  store.secrets.create(bearerSecret('one'));
  store.secrets.create(anthropicSecret('two'));
  store.secrets.rotate('one', ROTATED);
  store.sandboxes.create(sandboxDef({ A: 'one', B: 'two' }));
  const path = join(dir, 'data', DATABASE_FILE);
  const check = (): void => {
    for (const file of [path, `${path}-wal`]) {
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file);
      assert.equal(bytes.includes(Buffer.from(PLANTED)), false, `${file} holds the planted value`);
      assert.equal(bytes.includes(Buffer.from(ROTATED)), false, `${file} holds the rotated value`);
    }
  };
  check();
  assert.ok(existsSync(`${path}-wal`));
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  check();
});

test("sandboxes: a name belongs to one live sandbox (409 conflict, Superserve's shape); free again once deleted or expired", (t) => {
  const { store, changes } = setup(t);
  const first = store.sandboxes.create({ ...sandboxDef({}), name: 'worker' });
  assertRefused(() => store.sandboxes.create({ ...sandboxDef({}), name: 'worker' }), { code: 'conflict', message: 'a sandbox named "worker" already exists' });
  assert.equal(store.sandboxes.listPage(ALL).items.length, 1, 'the refused create left nothing behind');
  store.sandboxes.delete(first.id);
  const second = store.sandboxes.create({ ...sandboxDef({}), name: 'worker', expires_at: new Date(Date.now() + 60_000).toISOString() });

  // Expired (as if its expiry had passed): no longer shown, its name taken over by a new create,
  // which deletes it in the same transaction and says so to the rule table.
  store.db.prepare('UPDATE sandboxes SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), second.id);
  assert.equal(store.sandboxes.get(second.id), undefined);
  assert.deepEqual(store.sandboxes.listPage(ALL).items, []);
  assertRefused(() => store.sandboxes.attach(second.id, 'A', 'x'), { code: 'not_found' });
  changes.length = 0;
  const third = store.sandboxes.create({ ...sandboxDef({}), name: 'worker' });
  assert.deepEqual(changes, [
    { kind: 'sandbox', sandboxId: second.id },
    { kind: 'sandbox', sandboxId: third.id },
  ]);
  assert.equal(store.ruleSource.getSandbox(second.id), undefined, 'the expired row is gone');
  assert.equal(third.expiresAt, null);
});

test('sandboxes: expires_at is kept, shown to the rule source, and sweepExpired deletes exactly the expired ones', (t) => {
  const { store, changes } = setup(t);
  const soon = new Date(Date.now() + 60_000).toISOString();
  const brief = store.sandboxes.create({ ...sandboxDef({}), expires_at: soon });
  const forever = store.sandboxes.create(sandboxDef({}));
  assert.equal(store.sandboxes.get(brief.id)!.expiresAt, soon);
  assert.equal(store.ruleSource.getSandbox(brief.id)!.expiresAt, soon);
  assert.equal('expiresAt' in store.ruleSource.getSandbox(forever.id)!, false, 'no expiry, no field');

  assert.deepEqual(store.sandboxes.sweepExpired(), [], 'nothing has expired yet');
  changes.length = 0;
  assert.deepEqual(store.sandboxes.sweepExpired(new Date(Date.parse(soon) + 1)), [{ id: brief.id, name: brief.name }]);
  assert.deepEqual(changes, [{ kind: 'sandbox', sandboxId: brief.id }]);
  assert.deepEqual(
    store.ruleSource.listSandboxes().map((s) => s.id),
    [forever.id],
  );
});
