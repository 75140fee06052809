import assert from 'node:assert/strict';
import type { TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { openTunnel } from '../hardening/support.js';
import { startWorld, type World } from '../helpers/harness/index.js';
import type { SandboxInfo } from '../../src/sdk/types.js';

/**
 * Issue #13 item 13 on the proxy side: `Expect: 100-continue` is answered only once the request
 * passed admission and the credential policy, so a request about to be refused is refused before
 * its body is invited.
 */
let world: World;
let sandbox: SandboxInfo;

before(async () => {
  world = await startWorld({ flags: { 'log.level': 'warn' } });
  assert.equal(
    (await world.daemon.api('POST', '/secrets', { name: 'only-example', value: 'REAL-expect-value-01', auth: { type: 'bearer' }, hosts: ['api.example.test'] }))
      .status,
    201,
  );
  sandbox = (await world.daemon.api('POST', '/sandboxes', { name: 'expect', secrets: { T: 'only-example' } })).json;
});

after(() => world.close());

/** Writes a POST head with Expect: 100-continue; sends the body only after a 100; returns what came back. */
function post(tls: TLSSocket, host: string): Promise<string> {
  const body = '{"hello":"world"}';
  return new Promise((resolve) => {
    let text = '';
    let sent = false;
    const timer = setTimeout(() => resolve(text), 3000);
    tls.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!sent && text.startsWith('HTTP/1.1 100')) {
        sent = true;
        tls.write(body);
      }
      const final = text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
      const end = final.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(final)?.[1];
      if (end !== -1 && length !== undefined && final.length >= end + 4 + Number(length)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    tls.write(
      `POST /echo HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${sandbox.env.T}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
    );
  });
}

test('a request refused by the policy gets its refusal, never a 100 Continue first', async () => {
  const port = Number(world.daemon.daemon.proxyAddress.split(':').at(-1));
  const tls = await openTunnel(port, 'evil.test', world.caPem, { auth: `sb:${sandbox.access_token}` });
  try {
    assert.match(await post(tls, 'evil.test'), /^HTTP\/1\.1 403 [^]*x-credproxy-reason: credential_host_mismatch/i);
  } finally {
    tls.destroy();
  }
});

test('an admitted request gets 100 Continue, then its answer', async () => {
  const port = Number(world.daemon.daemon.proxyAddress.split(':').at(-1));
  const tls = await openTunnel(port, 'api.example.test', world.caPem, { auth: `sb:${sandbox.access_token}` });
  try {
    const text = await post(tls, 'api.example.test');
    assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.match(text, /"bodyBytes":17/);
  } finally {
    tls.destroy();
  }
});
