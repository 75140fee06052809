import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { eventually, startWorld, type World } from '../helpers/harness/index.js';

/**
 * Closing the daemon (what SIGTERM does) logs one `drained` line: how many requests were in
 * flight, how many finished within proxy.drainTimeoutMs and how many were cut.
 */

async function inFlightThenClose(world: World, slowMs: number): Promise<{ status: number | string; drained: Record<string, unknown> }> {
  const sandbox = (await world.daemon.api('POST', '/sandboxes', { name: 'drain', secrets: {} })).json;
  const seenBefore = world.upstream.requests;
  const response = request(`https://api.example.test/slow-headers?ms=${slowMs}`, { dispatcher: world.agentFor(sandbox.access_token) }).then(
    async (res) => {
      await res.body.dump();
      return res.statusCode as number | string;
    },
    (err: Error) => err.name,
  );
  await eventually('the upstream has the request', () => world.upstream.requests > seenBefore);
  await world.daemon.close();
  const status = await response;
  const drained = world.daemon.logs.entries().find((entry) => entry.msg === 'drained');
  assert.ok(drained, 'a drained line');
  return { status, drained };
}

test('a request in flight at shutdown finishes, and the drained line counts it', async () => {
  const world = await startWorld({ flags: { 'log.level': 'info' } });
  try {
    const { status, drained } = await inFlightThenClose(world, 300);
    assert.equal(status, 200);
    assert.equal(drained.level, 'info');
    assert.deepEqual({ requests: drained.requests, completed: drained.completed, cut: drained.cut }, { requests: 1, completed: 1, cut: 0 });
    assert.equal(typeof drained.ms, 'number');
  } finally {
    await world.close();
  }
});

test('a request still running when proxy.drainTimeoutMs runs out is cut, and counted as such', async () => {
  const world = await startWorld({ flags: { 'log.level': 'info', 'proxy.drainTimeoutMs': 200 } });
  try {
    const { status, drained } = await inFlightThenClose(world, 5_000);
    assert.notEqual(status, 200);
    assert.deepEqual({ requests: drained.requests, completed: drained.completed, cut: drained.cut }, { requests: 1, completed: 0, cut: 1 });
  } finally {
    await world.close();
  }
});
