import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { FLEET_HOST, startFleet, within, type Fleet, type SidecarProcess } from '../helpers/harness/fleet.js';
import { postgresBinDir, postgresSkipReason } from '../helpers/postgres.js';

// What a fleet survives, through real processes: a control-plane restart, an outage past the
// bundle's age (fail closed), a sidecar killed with rows in its outbox; and docs/contract.md#never-leak's canary:
// the real value never in PostgreSQL in clear, in any process's log or in a sidecar's SQLite.

const skip = postgresSkipReason();
const CANARY = `canary-${Date.now()}-fleet-real-value`;
const MAX_BUNDLE_AGE_MS = 1_500;

let fleet: Fleet;
let one: SidecarProcess;
let two: SidecarProcess;
const sandboxes: Record<string, { id: string; access_token: string; env: { TOKEN: string } }> = {};

before(async () => {
  if (skip) return;
  fleet = await startFleet({ maxBundleAgeMs: MAX_BUNDLE_AGE_MS });
  assert.equal((await fleet.api('POST', '/secrets', { name: 'canary', value: CANARY, auth: { type: 'bearer' }, hosts: [FLEET_HOST] })).status, 201);
  for (const name of ['one', 'two']) {
    sandboxes[name] = (await fleet.api('POST', '/sandboxes', { name, secrets: { TOKEN: 'canary' }, metadata: { credproxy_sidecar: name } })).json;
  }
  [one, two] = await Promise.all([fleet.startSidecar('one'), fleet.startSidecar('two')]);
});

after(async () => {
  await fleet?.close();
});

let n = 0;
async function swap(sidecar: SidecarProcess, name: string): Promise<{ status: number; upstreamSaw: string | undefined }> {
  const path = `/r/${name}/${++n}`;
  const res = await sidecar.fetch(sandboxes[name]!.access_token, path, { authorization: `Bearer ${sandboxes[name]!.env.TOKEN}` });
  return { status: res.status, upstreamSaw: fleet.upstream.seen.find((r) => r.url === path)?.headers.authorization as string | undefined };
}

async function auditCount(sandboxId: string): Promise<number> {
  const rows = (await fleet.api('GET', '/secrets/canary/audit?limit=1000')).json as Array<{ sandbox_id: string }>;
  return rows.filter((r) => r.sandbox_id === sandboxId).length;
}

test('sidecars keep serving through a control-plane restart and follow changes made after it', { skip }, async () => {
  await fleet.control.stop();
  assert.equal((await swap(one, 'one')).upstreamSaw, `Bearer ${CANARY}`, 'served from the bundle while the control plane is down');
  await fleet.startControl();
  // A change made after the restart reaches both sidecars over their reconnected streams.
  const rotated = `${CANARY}-rotated`;
  assert.equal((await fleet.api('PATCH', '/secrets/canary', { value: rotated })).status, 200);
  for (const [sidecar, name] of [
    [one, 'one'],
    [two, 'two'],
  ] as const) {
    await within(`rotation at ${name} after restart`, 3_000, async () => (await swap(sidecar, name)).upstreamSaw === `Bearer ${rotated}`);
  }
  assert.equal((await fleet.api('PATCH', '/secrets/canary', { value: CANARY })).status, 200);
  await within('value back at one', 3_000, async () => (await swap(one, 'one')).upstreamSaw === `Bearer ${CANARY}`);
  await within('value back at two', 3_000, async () => (await swap(two, 'two')).upstreamSaw === `Bearer ${CANARY}`);
});

test('past fleet.maxBundleAgeMs without the control plane, a sidecar fails closed with 503 policy_unavailable', { skip }, async () => {
  await fleet.control.stop();
  try {
    const start = Date.now();
    const refusedAfter = await within('policy_unavailable', MAX_BUNDLE_AGE_MS + 3_000, async () => (await swap(one, 'one')).status === 503);
    assert.ok(Date.now() - start >= MAX_BUNDLE_AGE_MS - 600, `refused after ${Math.round(refusedAfter)} ms, before the bundle's age ran out`);
    const res = await one.fetch(sandboxes.one!.access_token, '/plain');
    assert.equal(res.status, 503, 'nothing is forwarded, stand-in or not');
  } finally {
    await fleet.startControl();
  }
  await within('serving again once the control plane is back', 5_000, async () => (await swap(one, 'one')).status === 200);
});

test("rows in a killed sidecar's outbox reach the control plane after it restarts, each once", { skip }, async () => {
  await within('two serving and its earlier rows shipped', 5_000, async () => (await swap(two, 'two')).status === 200);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const before = await auditCount(sandboxes.two!.id);
  await fleet.control.stop();
  // With the control plane down the rows can only wait in the outbox; the sidecar still serves (bundle young enough).
  const sent = 5;
  for (let i = 0; i < sent; i++) assert.equal((await swap(two, 'two')).status, 200);
  await new Promise((resolve) => setTimeout(resolve, 1_100)); // the audit writer's flush (≤ 1 s)
  await two.kill();
  await fleet.startControl();
  two = await fleet.startSidecar('two');
  await within('outbox shipped after restart', 5_000, async () => (await auditCount(sandboxes.two!.id)) >= before + sent);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(await auditCount(sandboxes.two!.id), before + sent, 'each row once');
});

test('never-leak: the real value is in no log, no sidecar SQLite file and nowhere in PostgreSQL in clear', { skip }, async () => {
  await within('the canary is really used', 5_000, async () => (await swap(one, 'one')).upstreamSaw === `Bearer ${CANARY}`);
  await one.fetch(sandboxes.one!.access_token, '/r/stand-in-only');
  assert.ok(!fleet.allOutput().includes(CANARY), 'no process logged the value');
  for (const sidecar of [one, two]) {
    // Every file, the sandbox kit's included.
    for (const file of readdirSync(sidecar.dataDir, { recursive: true, encoding: 'utf8' })) {
      const path = join(sidecar.dataDir, file);
      if (statSync(path).isFile()) assert.ok(!readFileSync(path).includes(CANARY), `${sidecar.name}: ${file}`);
    }
  }
  const bin = postgresBinDir()!;
  const dump = spawnSync(
    'runuser',
    ['-u', 'postgres', '--', join(bin, 'pg_dump'), '--no-owner', '-h', '127.0.0.1', '-p', String(fleet.pg.port), fleet.databaseUrl.split('/').pop()!],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  assert.equal(dump.status, 0, dump.stderr);
  assert.ok(dump.stdout.includes('canary'), 'the dump holds the secret row');
  assert.ok(!dump.stdout.includes(CANARY), 'but not its value');
  assert.ok(!dump.stdout.includes(Buffer.from(CANARY).toString('hex')), 'not even as bytea hex');
});
