import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { type SecretWorld, startSecretWorld, type World } from '../helpers/harness/index.js';

const CLIENTS = 8;
const ROTATIONS = 50;
const MAX_LOAD_MS = 10_000;
const value = (version: number): string => `REAL-rotating-v${String(version).padStart(3, '0')}`;

let setup: SecretWorld;
let world: World;
let sandbox: SecretWorld['sandbox'];
/** request id → the Authorization value the upstream received. */
const received = new Map<string, string>();

before(async () => {
  setup = await startSecretWorld({
    name: 'rotating',
    host: 'rotate.test',
    value: value(0),
    upstream: (req, res) => {
      received.set(String(req.headers['x-request-id']), String(req.headers.authorization));
      res.end('ok');
    },
  });
  ({ world, sandbox } = setup);
});

after(() => setup.close());

test(`${ROTATIONS} rotations under ${CLIENTS} concurrent clients: no failure, no old value after a rotate returned`, async () => {
  const agent = world.agentFor(sandbox.access_token);
  const starts: Array<{ id: string; at: number }> = [];
  const failures: string[] = [];
  /** rotatedAt[v] = when the rotate to version v returned. */
  const rotatedAt: number[] = [0];
  let rotating = true;
  let seq = 0;

  const client = async (c: number): Promise<void> => {
    const deadline = Date.now() + MAX_LOAD_MS;
    while (rotating && Date.now() < deadline) {
      const id = `${c}-${seq++}`;
      starts.push({ id, at: performance.now() });
      try {
        const res = await request('https://rotate.test/r', {
          dispatcher: agent,
          headers: { authorization: `Bearer ${sandbox.env.TOKEN}`, 'x-request-id': id },
        });
        await res.body.text();
        if (res.statusCode !== 200) failures.push(`${id}: ${res.statusCode}`);
      } catch (err) {
        failures.push(`${id}: ${(err as Error).message}`);
      }
    }
  };
  const rotator = async (): Promise<void> => {
    for (let v = 1; v <= ROTATIONS; v++) {
      const res = await world.daemon.api('PATCH', '/secrets/rotating', { value: value(v) });
      assert.equal(res.status, 200, res.text);
      rotatedAt[v] = performance.now();
      // Each rotation gets requests of its own, however slow a loaded machine makes them.
      const startsBefore = starts.length;
      const waitUntil = Date.now() + MAX_LOAD_MS / ROTATIONS;
      do await new Promise((resolve) => setTimeout(resolve, 20));
      while (starts.length < startsBefore + 2 && Date.now() < waitUntil);
    }
    rotating = false;
  };
  await Promise.all([...Array.from({ length: CLIENTS }, (_, c) => client(c)), rotator()]);

  assert.deepEqual(failures, []);
  assert.equal(rotatedAt.length, ROTATIONS + 1, 'every rotation finished within the load window');
  let stale = 0;
  for (const { id, at } of starts) {
    const got = received.get(id);
    assert.ok(got, `request ${id} reached the upstream`);
    const version = Number(/v(\d+)$/.exec(got)![1]);
    // The newest rotation that had returned before this request started.
    let required = 0;
    while (required + 1 < rotatedAt.length && rotatedAt[required + 1]! <= at) required++;
    if (version < required) stale++;
  }
  process.stdout.write(`# rotation: ${starts.length} requests, ${ROTATIONS} rotations, ${stale} stale\n`);
  assert.equal(stale, 0, 'a request that started after a rotate returned carried an older value');
  assert.ok(starts.length >= ROTATIONS * 2, `load was too light: ${starts.length} requests`);
});

test(`delete of a secret bound to 40 sandboxes, under load from ${CLIENTS} of them: every request that starts after the call returned is refused`, async () => {
  const created = await world.daemon.api('POST', '/secrets', { name: 'doomed', value: 'REAL-doomed-value', auth: { type: 'bearer' }, hosts: ['rotate.test'] });
  assert.equal(created.status, 201, created.text);
  const bound: Array<{ access_token: string; env: Record<string, string> }> = [];
  for (let i = 0; i < 40; i++) bound.push((await world.daemon.api('POST', '/sandboxes', { name: `doomed-${i}`, secrets: { DOOMED: 'doomed' } })).json);
  const outcomes: Array<{ id: string; at: number; status: number }> = [];
  let deletedAt = Number.POSITIVE_INFINITY;
  let running = true;
  let seq = 0;

  const client = async (sb: (typeof bound)[number], c: number): Promise<void> => {
    const agent = world.agentFor(sb.access_token);
    const deadline = Date.now() + MAX_LOAD_MS;
    while (running && Date.now() < deadline) {
      const id = `doomed-${c}-${seq++}`;
      const at = performance.now();
      const res = await request('https://rotate.test/d', { dispatcher: agent, headers: { authorization: `Bearer ${sb.env.DOOMED}`, 'x-request-id': id } });
      await res.body.text();
      outcomes.push({ id, at, status: res.statusCode });
    }
  };
  const deleter = async (): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const res = await world.daemon.api('DELETE', '/secrets/doomed');
    deletedAt = performance.now();
    assert.equal(res.status, 204, res.text);
    // Until every client has started requests after the delete returned (a loaded machine is slow).
    const waitUntil = Date.now() + MAX_LOAD_MS / 2;
    do await new Promise((resolve) => setTimeout(resolve, 50));
    while (outcomes.filter((o) => o.at >= deletedAt).length < CLIENTS * 2 && Date.now() < waitUntil);
    running = false;
  };
  await Promise.all([...bound.slice(0, CLIENTS).map(client), deleter()]);

  const before = outcomes.filter((o) => o.at < deletedAt);
  const after = outcomes.filter((o) => o.at >= deletedAt);
  assert.ok(
    before.some((o) => o.status === 200),
    'the stand-ins worked before the delete',
  );
  assert.ok(after.length >= CLIENTS, `load was too light after the delete: ${after.length} requests`);
  assert.deepEqual(
    after.filter((o) => o.status !== 503 || received.has(o.id)).map((o) => `${o.id}: ${o.status}`),
    [],
    'a request that started after the delete returned was forwarded',
  );
});
