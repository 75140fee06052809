import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { SecretCipher } from '../../../src/secrets/crypto.js';
import { DATABASE_FILE, openStore } from '../../../src/store/index.js';
import { MIGRATIONS } from '../../../src/store/migrations/index.js';

test("migration 006: bindings keep their deleted secret's id, every old state reads as before, and deletes find rows by index", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-bindings-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A database as migration 005 left it: one secret alive, one deleted since migration 004, and
  // bindings in each state the old schema could hold.
  const old = new BetterSqlite3(join(dir, DATABASE_FILE));
  for (const sql of MIGRATIONS.slice(0, 5)) old.exec(sql);
  old.pragma('user_version = 5');
  old
    .prepare(
      `INSERT INTO secrets (id, name, auth_type, auth_config, hosts, value_enc, created_at, updated_at)
    VALUES ('sec-live', 'live', 'bearer', '{}', '["api.example.com"]', x'00', 'T', 'T')`,
    )
    .run();
  old.prepare("INSERT INTO sandboxes (id, name, access_token, created_at) VALUES ('sb-1', 'one', 'token-1', 'T')").run();
  const bind = old.prepare(`INSERT INTO bindings (id, sandbox_id, env_key, secret_id, deleted_secret_id, secret_name, stand_in, revoked, created_at)
    VALUES (?, 'sb-1', ?, ?, ?, ?, ?, ?, 'T')`);
  bind.run(1, 'LIVE', 'sec-live', null, 'live', 'si-1', null);
  bind.run(2, 'GONE', null, 'sec-gone', 'gone', 'si-2', 'credential_revoked');
  bind.run(3, 'ANCIENT', null, null, 'ancient', 'si-3', 'credential_revoked');
  bind.run(4, 'LIVE', 'sec-live', null, 'live', 'si-4', 'proxy_token_revoked');
  bind.run(5, 'GONE', null, 'sec-gone', 'gone', 'si-5', 'proxy_token_revoked');
  old.close();

  const store = openStore({ dataDir: dir, cipher: new SecretCipher(randomBytes(32)) });
  t.after(() => store.close());
  assert.deepEqual(
    store.ruleSource.getSandbox('sb-1')!.bindings.map((b) => [b.id, b.secretId, b.revoked]),
    [
      [1, 'sec-live', null],
      [2, 'sec-gone', 'credential_revoked'],
      [3, null, 'credential_revoked'],
      [4, 'sec-live', 'proxy_token_revoked'],
      [5, 'sec-gone', 'proxy_token_revoked'],
    ],
  );
  // The API shows what is not detached, as before.
  assert.deepEqual(
    store.sandboxes.get('sb-1')!.bindings.map((b) => [b.envKey, b.revoked]),
    [
      ['LIVE', null],
      ['GONE', 'credential_revoked'],
      ['ANCIENT', 'credential_revoked'],
    ],
  );
  const plan = (sql: string) => (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
  assert.match(plan("SELECT id FROM bindings WHERE sandbox_id = 'sb-1'"), /USING (COVERING )?INDEX bindings_sandbox/);
  assert.match(plan("SELECT id FROM agents WHERE sandbox_id = 'sb-1'"), /USING (COVERING )?INDEX agents_sandbox/);
  store.sandboxes.delete('sb-1');
  assert.equal((store.db.prepare('SELECT count(*) AS n FROM bindings').get() as { n: number }).n, 0);
});
