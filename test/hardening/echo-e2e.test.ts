import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { startWorld, type World } from '../helpers/world.js';

const REAL = 'sk-REAL-echo/e2e+value=42';
/** Bytes per write on the upstream side, so the value straddles chunk boundaries. */
const SLICE = 5;

let pki: TestPki;
let server: Server;
let world: World;
let sandbox: any;

/** Echoes the Authorization it received (raw, base64 and JSON-escaped) as a chunked body, encoded as asked. */
function echo(encoding: string, auth: string): { body: Buffer; encoding?: string } {
  const value = auth.replace(/^Bearer /, '');
  const text = `raw=${value}\nb64=${Buffer.from(value).toString('base64')}\njson=${JSON.stringify({ v: value }).replaceAll('/', '\\/')}\n`.repeat(20);
  if (encoding === 'gzip') return { body: gzipSync(text), encoding };
  if (encoding === 'br') return { body: brotliCompressSync(Buffer.from(text)), encoding };
  return { body: Buffer.from(text) };
}

before(async () => {
  pki = await createTestPki('echo-upstream');
  server = createServer({ SNICallback: pki.certs.sniCallback }, (req, res) => {
    const { body, encoding } = echo(new URL(req.url!, 'https://x').searchParams.get('enc') ?? '', String(req.headers.authorization));
    res.writeHead(200, {
      'content-type': 'text/plain', 'x-echo': String(req.headers.authorization), 'x-accept-encoding': String(req.headers['accept-encoding']), ...(encoding ? { 'content-encoding': encoding } : {}) });
    let at = 0;
    const pump = (): void => {
      if (res.destroyed) return;
      if (at >= body.length) {
        res.end();
        return;
      }
      res.write(body.subarray(at, at + SLICE));
      at += SLICE;
      setImmediate(pump);
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  world = await startWorld({
    upstreamPki: pki,
    resolve: [`echo.test:443=127.0.0.1:${(server.address() as AddressInfo).port}`],
    flags: { 'log.level': 'warn' },
  });
  await world.daemon.api('POST', '/secrets', { name: 'echo', value: REAL, auth: { type: 'bearer' }, hosts: ['echo.test'] });
  sandbox = (await world.daemon.api('POST', '/sandboxes', { name: 'echo', secrets: { TOKEN: 'echo' } })).json;
});

after(async () => {
  await world.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await pki.remove();
});

for (const encoding of ['', 'gzip', 'br']) {
  test(`echo through the real proxy: chunked ${encoding || 'identity'} body in ${SLICE}-byte writes → only the stand-in comes back`, async () => {
    const standIn: string = sandbox.env.TOKEN;
    const res = await request(`https://echo.test/echo?enc=${encoding}`, {
      dispatcher: world.agentFor(sandbox.access_token),
      headers: { authorization: `Bearer ${standIn}`, 'accept-encoding': 'gzip, br' },
    });
    const body = Buffer.from(await res.body.arrayBuffer()).toString('utf8');
    assert.equal(res.statusCode, 200);
    assert.ok(res.headers['content-encoding'] === undefined || res.headers['content-encoding'] === 'identity', 'decoded for scrubbing');
    assert.equal(res.headers['x-echo'], `Bearer ${standIn}`);
    const expected = `raw=${standIn}\nb64=${Buffer.from(standIn).toString('base64')}\njson=${JSON.stringify({ v: standIn })}\n`.repeat(20);
    assert.equal(body, expected);
    for (const form of [REAL, Buffer.from(REAL).toString('base64'), REAL.replaceAll('/', '\\/')]) assert.ok(!body.includes(form));
  });
}

test('a request with a stand-in asks the upstream only for codings the scrubber can decode', async () => {
  const res = await request('https://echo.test/echo', {
    dispatcher: world.agentFor(sandbox.access_token),
    headers: { authorization: `Bearer ${sandbox.env.TOKEN}`, 'accept-encoding': 'zstd, compress, *' },
  });
  await res.body.text();
  assert.equal(res.headers['x-accept-encoding'], 'gzip, deflate, br');
});
