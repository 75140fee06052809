import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'undici';
import { FLEET_HOST, startFleet, within, type Fleet, type SidecarProcess } from '../helpers/harness/fleet.js';
import { postgresSkipReason } from '../helpers/postgres.js';

// A control plane on PostgreSQL, three sidecars and a real HTTPS upstream, all as real processes
// on loopback. Rotation and revocation are timed against the < 1 s bound of issue #16.

const skip = postgresSkipReason();
/** Issue #16: a revocation (delete, detach) reaches every sidecar in under a second. */
const REVOCATION_BOUND_MS = 1_000;
/**
 * A rotation also needs the new value fetched from the control plane (sealed to each sidecar): the
 * bench measures it (docs/decisions.md); the test only shows it arrives, with room for a loaded CI box.
 */
const ROTATION_BOUND_MS = 3_000;

let fleet: Fleet;
const sidecars: SidecarProcess[] = [];
const sandboxes: Array<{ id: string; access_token: string; env: { TOKEN: string } }> = [];

before(async () => {
  if (skip) return;
  fleet = await startFleet();
  const created = await fleet.api('POST', '/secrets', { name: 'fleet-api', value: 'real-value-v1', auth: { type: 'bearer' }, hosts: [FLEET_HOST] });
  assert.equal(created.status, 201, created.text);
  for (const name of ['alpha', 'beta', 'gamma']) {
    const sandbox = await fleet.api('POST', '/sandboxes', { name: `sb-${name}`, secrets: { TOKEN: 'fleet-api' }, metadata: { credproxy_sidecar: name } });
    assert.equal(sandbox.status, 201, sandbox.text);
    sandboxes.push(sandbox.json);
  }
  sidecars.push(...(await Promise.all(['alpha', 'beta', 'gamma'].map((name) => fleet.startSidecar(name)))));
});

after(async () => {
  await fleet?.close();
});

let n = 0;
/** One request through `sidecar` as sandbox `i` with its stand-in; what the upstream received as Authorization. */
async function swap(sidecar: SidecarProcess, i: number): Promise<{ status: number; reason: string | undefined; upstreamSaw: string | undefined }> {
  const path = `/echo/${sidecar.name}/${++n}`;
  const sandbox = sandboxes[i]!;
  const res = await sidecar.fetch(sandbox.access_token, path, { authorization: `Bearer ${sandbox.env.TOKEN}` });
  const seen = fleet.upstream.seen.find((r) => r.url === path);
  return { status: res.status, reason: res.reason, upstreamSaw: seen?.headers.authorization as string | undefined };
}

test('each sidecar swaps the stand-in of its own sandbox for the real value', { skip }, async () => {
  for (const [i, sidecar] of sidecars.entries()) {
    const res = await swap(sidecar, i);
    assert.equal(res.status, 200);
    assert.equal(res.upstreamSaw, 'Bearer real-value-v1');
  }
});

test("a sidecar holds only its own sandboxes: another sidecar's sandbox does not authenticate", { skip }, async () => {
  const res = await sidecars[0]!.fetch(sandboxes[1]!.access_token, '/echo', { authorization: `Bearer ${sandboxes[1]!.env.TOKEN}` });
  assert.equal(res.status, 407);
});

test('a rotation reaches every sidecar', { skip }, async () => {
  const rotated = await fleet.api('PATCH', '/secrets/fleet-api', { value: 'real-value-v2' });
  assert.equal(rotated.status, 200, rotated.text);
  const took = await Promise.all(
    sidecars.map((sidecar, i) =>
      within(`rotation at ${sidecar.name}`, ROTATION_BOUND_MS, async () => {
        const res = await swap(sidecar, i);
        return res.status === 200 && res.upstreamSaw === 'Bearer real-value-v2';
      }),
    ),
  );
  assert.ok(Math.max(...took) < ROTATION_BOUND_MS, `rotation took ${took.map(Math.round).join(', ')} ms`);
});

test("the request id a sidecar's client got is on the control plane's audit row", { skip }, async () => {
  const res = await sidecars[1]!.fetch(sandboxes[1]!.access_token, '/echo/quoted', { authorization: `Bearer ${sandboxes[1]!.env.TOKEN}` });
  assert.equal(res.status, 200);
  assert.match(String(res.requestId), /^[0-9a-f]{24}$/);
  await within('the audit row under the quoted id', 5_000, async () => {
    const audit = await fleet.api('GET', '/secrets/fleet-api/audit?limit=1000');
    return (audit.json as Array<{ request_id?: string; path: string }>).some((row) => row.request_id === res.requestId && row.path === '/echo/quoted');
  });
});

test('audit rows from every sidecar come back from one control-plane query', { skip }, async () => {
  await within('audit rows of all three sandboxes, and two of the first', 5_000, async () => {
    const audit = await fleet.api('GET', '/secrets/fleet-api/audit?limit=1000');
    const rows = audit.json as Array<{ sandbox_id: string }>;
    const seen = new Set(rows.map((row) => row.sandbox_id));
    // Each sidecar ships on its own schedule: its later rows may come a batch after its first.
    return sandboxes.every((s) => seen.has(s.id)) && rows.filter((row) => row.sandbox_id === sandboxes[0]!.id).length >= 2;
  });
  // Two requests through alpha (the first swap and at least one poll of the rotation) page in twos.
  await within(
    'two network rows of alpha',
    5_000,
    async () => (await fleet.api('GET', `/sandboxes/${sandboxes[0]!.id}/network?limit=1000`)).json.data.length >= 2,
  );
  const network = await fleet.api('GET', `/sandboxes/${sandboxes[0]!.id}/network?limit=1`);
  assert.equal(network.status, 200);
  assert.equal(network.json.data.length, 1);
  assert.equal(network.json.has_more, true);
  const next = await fleet.api('GET', `/sandboxes/${sandboxes[0]!.id}/network?limit=1&before=${network.json.next_cursor}`);
  assert.ok(next.json.data[0].id < network.json.data[0].id);
});

test('detach and delete reach every sidecar within the bound', { skip }, async () => {
  const detached = await fleet.api('DELETE', `/sandboxes/${sandboxes[0]!.id}/secrets/TOKEN`);
  assert.equal(detached.status, 204);
  await within('detach at alpha', REVOCATION_BOUND_MS, async () => (await swap(sidecars[0]!, 0)).reason === 'proxy_token_revoked');

  const deleted = await fleet.api('DELETE', '/secrets/fleet-api');
  assert.equal(deleted.status, 204);
  const took = await Promise.all(
    sidecars.slice(1).map((sidecar, i) =>
      within(`delete at ${sidecar.name}`, REVOCATION_BOUND_MS, async () => {
        const res = await swap(sidecar, i + 1);
        return res.status === 503 && res.reason === 'credential_revoked';
      }),
    ),
  );
  assert.ok(Math.max(...took) < REVOCATION_BOUND_MS, `revocation took ${took.map(Math.round).join(', ')} ms`);
});

test('a sidecar exports its bundle age and outbox size on /metrics, and they pass promtool', { skip }, async () => {
  const res = await request(`http://${sidecars[1]!.ready.admin}/metrics`);
  const text = await res.body.text();
  const age = Number(/^credproxy_fleet_bundle_age_seconds (\S+)$/m.exec(text)?.[1]);
  assert.ok(age >= 0 && age < 2, `bundle age ${age} s with heartbeats every 200 ms`);
  assert.match(text, /^credproxy_fleet_outbox_rows \d+$/m);
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (promtool.error) {
    assert.ok(process.env.CI !== 'true', 'CI installs prometheus (promtool)');
    return;
  }
  assert.equal(promtool.status, 0, promtool.stdout + promtool.stderr);
});
