import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { toFailure } from '../../src/api/error-envelope.js';
import { EnvelopeCipher, MasterKeyWrapper } from '../../src/secrets/envelope.js';
import type { SandboxDefinition } from '../../src/secrets/validate-sandbox.js';
import { openPgStore, type PgStore } from '../../src/store/postgres/index.js';
import { postgresSkipReason, testPostgres } from '../helpers/postgres.js';

// Sandbox names and expiry on the control plane's PostgreSQL store (a throwaway cluster): the
// same rules as SQLite's (test/unit/store/repositories.test.ts), plus what sidecars hear: the
// expiry in their bundle, a deletion change when a sweep or a create removes an expired sandbox.

const skip = postgresSkipReason();
let store: PgStore;

before(async () => {
  if (skip) return;
  store = await openPgStore({
    url: await (await testPostgres()).createDatabase(),
    poolSize: 4,
    retentionDays: 7,
    envelope: new EnvelopeCipher(new MasterKeyWrapper(randomBytes(32))),
  });
});
after(() => store?.close());

const def = (name: string, extra: Partial<SandboxDefinition> = {}): SandboxDefinition => ({
  name,
  secrets: {},
  env_vars: {},
  network: { allow_out: [], deny_out: [] },
  metadata: { credproxy_sidecar: 'node-1' },
  ...extra,
});

const expire = (id: string) => store.pool.query('UPDATE sandboxes SET expires_at = $2 WHERE id = $1', [id, new Date(Date.now() - 1000).toISOString()]);

const deletions = async (id: string) =>
  (await store.pool.query<{ deleted: boolean }>("SELECT deleted FROM changes WHERE kind = 'sandbox' AND subject_id = $1 AND deleted", [id])).rowCount;

test('one live sandbox per name, also when creates race; an expired one gives its name up', { skip }, async () => {
  const results = await Promise.allSettled([0, 1, 2, 3].map(() => store.sandboxes.create(def('racer'))));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one of four concurrent creates wins');
  for (const r of results.filter((r) => r.status === 'rejected')) {
    const { code, message } = toFailure(r.reason);
    assert.deepEqual({ code, message }, { code: 'conflict', message: 'a sandbox named "racer" already exists' });
  }
  const winner = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ id: string }>).value;
  await expire(winner.id);
  assert.equal(await store.sandboxes.get(winner.id), undefined, 'expired: gone from the API');
  assert.equal(
    (await store.sandboxes.listPage({ limit: 1000 })).items.some((s) => s.id === winner.id),
    false,
  );
  const next = await store.sandboxes.create(def('racer'));
  assert.equal(await deletions(winner.id), 1, 'taking the name deleted the expired sandbox, and its sidecar hears it');
  assert.equal(next.expiresAt, null);
});

test('expires_at is stored, travels in the sidecar bundle, and sweepExpired deletes the expired with a deletion change', { skip }, async () => {
  const soon = new Date(Date.now() + 60_000).toISOString();
  const brief = await store.sandboxes.create(def('brief', { expires_at: soon }));
  assert.equal(brief.expiresAt, soon);
  const bundle = await store.fleet.bundle('node-1', [brief.id]);
  assert.equal(bundle.sandboxes[0]!.expiresAt, soon, 'the sidecar refuses the token from the expiry on by itself');
  assert.deepEqual(await store.sandboxes.sweepExpired(), []);
  await expire(brief.id);
  assert.deepEqual(await store.sandboxes.sweepExpired(), [{ id: brief.id, name: 'brief' }]);
  assert.equal(await deletions(brief.id), 1);
  assert.deepEqual((await store.fleet.bundle('node-1', [brief.id])).sandboxes, []);
});
