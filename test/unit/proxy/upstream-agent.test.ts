import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../../src/config/load.js';
import { EgressGuard } from '../../../src/proxy/egress.js';
import { createUpstream, type Upstream } from '../../../src/proxy/upstream-agent.js';
import { eventually } from '../../helpers/harness/index.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { startUpstream as startTestUpstream, type TestUpstream } from '../../helpers/upstream.js';

const HOST = 'pre.example.test';
let pki: TestPki;
let server: TestUpstream;

before(async () => {
  pki = await createTestPki('upstream-agent');
  server = await startTestUpstream({ pki });
});

after(async () => {
  await server.close();
  await pki.remove();
});

function upstream(): Upstream {
  const config = loadConfig({
    env: {},
    cwd: pki.dir,
    flags: { 'upstream.resolve': [`${HOST}:443=127.0.0.1:${server.port}`], 'upstream.caFile': pki.caPath },
  });
  const guard = new EgressGuard({ overrides: config.upstream.resolve, allowPrivateNetworks: false, protectedAddresses: () => [] });
  return createUpstream(config, guard);
}

async function get(up: Upstream): Promise<number> {
  const res = await up.agent.request({ origin: `https://${HOST}`, path: '/x', method: 'GET' });
  await res.body.dump();
  return res.statusCode;
}

test('preconnect: the first request rides the pre-dialled connection; none is dialled while the pool holds one', async () => {
  const up = upstream();
  const before = server.connections;
  up.preconnect(HOST, 443);
  await eventually('pre-dialled connection accepted', () => server.connections === before + 1);
  assert.equal(await get(up), 200);
  assert.equal(server.connections, before + 1, 'the request took the spare instead of dialling');
  up.preconnect(HOST, 443);
  await sleep(100);
  assert.equal(server.connections, before + 1, 'no spare while the pool holds a connection');
  await up.close();
});

test('close() also closes a spare nobody took', async () => {
  const up = upstream();
  up.preconnect(HOST, 443);
  await sleep(50);
  await up.close(); // the test process would stay alive on an open spare otherwise
});
