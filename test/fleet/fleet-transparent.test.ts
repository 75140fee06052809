import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FLEET_HOST, startFleet, within, type Fleet, type SidecarProcess } from '../helpers/harness/fleet.js';
import { postgresSkipReason } from '../helpers/postgres.js';
import { listenerOf, viaTransparentTls } from '../helpers/transparent-client.js';

// Source addresses in fleet mode: stored on PostgreSQL (one claim per address among a sidecar's
// sandboxes), carried in the sealed bundle and the change stream, and used by a sidecar's
// transparent listener to tell its sandboxes apart. Clients pick their source by binding to 127.x.

const skip = postgresSkipReason();
const REAL = { a: 'real-fleet-source-a', b: 'real-fleet-source-b' };
const BOUND_MS = 1_000;

interface Sandbox {
  id: string;
  env: { TOKEN: string };
  source_addresses?: string[];
}
let fleet: Fleet;
let sidecar: SidecarProcess;
let caPem: string;
const sandboxes: Record<string, Sandbox> = {};

before(async () => {
  if (skip) return;
  fleet = await startFleet();
  for (const [name, address] of [
    ['a', '127.0.0.2'],
    ['b', '127.0.0.3'],
  ] as const) {
    const secret = await fleet.api('POST', '/secrets', { name: `source-${name}`, value: REAL[name], auth: { type: 'bearer' }, hosts: [FLEET_HOST] });
    assert.equal(secret.status, 201, secret.text);
    const created = await fleet.api('POST', '/sandboxes', {
      name: `sb-${name}`,
      secrets: { TOKEN: `source-${name}` },
      source_addresses: [address],
      metadata: { credproxy_sidecar: 'edge' },
    });
    assert.equal(created.status, 201, created.text);
    sandboxes[name] = created.json;
  }
  sidecar = await fleet.startSidecar('edge', { transparent: { https: '127.0.0.1:0' } });
  caPem = readFileSync(sidecar.ready.ca!, 'utf8');
});

after(async () => {
  await fleet?.close();
});

let n = 0;
/** A request to the sidecar's transparent listener from `source` with `sandbox`'s stand-in; what the upstream got. */
async function fromSource(source: string, sandbox: Sandbox): Promise<{ status: number; reason: unknown; text: string; upstreamSaw: unknown }> {
  const path = `/source/${++n}`;
  const res = await viaTransparentTls(listenerOf(sidecar.ready.transparentHttps), caPem, FLEET_HOST, {
    path,
    headers: { authorization: `Bearer ${sandbox.env.TOKEN}` },
    localAddress: source,
  });
  return {
    status: res.status,
    reason: res.headers['x-credproxy-reason'],
    text: res.text,
    upstreamSaw: fleet.upstream.seen.find((r) => r.url === path)?.headers.authorization,
  };
}

test("the control plane stores source addresses; an address is claimed once among one sidecar's sandboxes", { skip }, async () => {
  assert.deepEqual((await fleet.api('GET', `/sandboxes/${sandboxes.a!.id}`)).json.source_addresses, ['127.0.0.2']);
  const again = await fleet.api('POST', '/sandboxes', { name: 'dup', source_addresses: ['::ffff:127.0.0.2'], metadata: { credproxy_sidecar: 'edge' } });
  assert.equal(again.status, 409);
  assert.equal(
    again.json.error.message,
    `source_addresses[0]: 127.0.0.2 is already declared by sandbox "sb-a" (${sandboxes.a!.id}); an address identifies one sandbox`,
  );
  const elsewhere = await fleet.api('POST', '/sandboxes', { name: 'other-node', source_addresses: ['127.0.0.2'], metadata: { credproxy_sidecar: 'other' } });
  assert.equal(elsewhere.status, 201, "another sidecar's sandboxes may use the same private address");
  assert.equal((await fleet.api('DELETE', `/sandboxes/${elsewhere.json.id}`)).status, 204);
});

test("a sidecar tells its sandboxes apart by source address: each gets its own swap, not the other's stand-in", { skip }, async () => {
  const a = await fromSource('127.0.0.2', sandboxes.a!);
  assert.equal(a.status, 200, a.text);
  assert.equal(a.upstreamSaw, `Bearer ${REAL.a}`);
  const b = await fromSource('127.0.0.3', sandboxes.b!);
  assert.equal(b.status, 200, b.text);
  assert.equal(b.upstreamSaw, `Bearer ${REAL.b}`);
  const cross = await fromSource('127.0.0.2', sandboxes.b!);
  assert.equal(cross.reason, 'stand_in_wrong_sandbox');
  assert.equal(cross.upstreamSaw, undefined);
  const unknown = await fromSource('127.0.0.4', sandboxes.a!);
  assert.equal(unknown.status, 407);
  assert.match(unknown.text, /no sandbox declares the source address 127\.0\.0\.4/);
});

test('a sandbox created or deleted on the control plane is identified, or refused, by its source within the bound', { skip }, async () => {
  const created = await fleet.api('POST', '/sandboxes', {
    name: 'sb-late',
    secrets: { TOKEN: 'source-a' },
    source_addresses: ['127.0.0.4'],
    metadata: { credproxy_sidecar: 'edge' },
  });
  assert.equal(created.status, 201, created.text);
  await within('the new sandbox at the sidecar', BOUND_MS, async () => (await fromSource('127.0.0.4', created.json)).upstreamSaw === `Bearer ${REAL.a}`);
  assert.equal((await fleet.api('DELETE', `/sandboxes/${created.json.id}`)).status, 204);
  await within('the delete at the sidecar', BOUND_MS, async () => (await fromSource('127.0.0.4', created.json)).status === 407);
});
