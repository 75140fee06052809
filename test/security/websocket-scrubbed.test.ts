import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { HttpsProxyAgentForWs } from '../helpers/ws-agent.js';
import { startWorld, type World } from '../helpers/harness/index.js';

/**
 * Issue #13 item 5, through the real daemon: an upstream WebSocket echoing the injected value is
 * scrubbed message by message. A value split across fragments is caught, a message ending in the
 * start of the value is delivered at once (request/response protocols do not stall), and ping,
 * pong and close payloads and binary messages are scrubbed too.
 */
const REAL = 'sk-REAL-ws-value/+=0123456789';
const HOST = 'ws.test';
let pki: TestPki;
let server: Server;
let world: World;
let sandbox: { access_token: string; env: { TOKEN: string } };

before(async () => {
  pki = await createTestPki('ws-scrub-upstream');
  server = createServer({ SNICallback: pki.certs.sniCallback });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    const value = String(req.headers.authorization).replace(/^Bearer /, '');
    const third = Math.ceil(value.length / 3);
    switch (req.url) {
      case '/fragments':
        ws.send(`a=${value.slice(0, third)}`, { fin: false });
        ws.send(value.slice(third, 2 * third), { fin: false });
        ws.send(`${value.slice(2 * third)};`, { fin: true });
        break;
      case '/prefix':
        ws.on('message', (data) => ws.send(`${String(data)}:${value.slice(0, 8)}`));
        break;
      case '/control':
        ws.ping(`ping ${value}`);
        ws.on('pong', (data) => ws.send(`pong was ${String(data)}`));
        ws.on('message', () => ws.close(4000, `bye ${value}`));
        break;
      case '/binary':
        ws.send(Buffer.from(`bin ${value} end`), { binary: true });
        break;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  world = await startWorld({
    upstreamPki: pki,
    resolve: [`${HOST}:443=127.0.0.1:${(server.address() as AddressInfo).port}`],
    flags: { 'log.level': 'warn' },
  });
  assert.equal((await world.daemon.api('POST', '/secrets', { name: 'ws', value: REAL, auth: { type: 'bearer' }, hosts: [HOST] })).status, 201);
  sandbox = (await world.daemon.api('POST', '/sandboxes', { name: 'ws', secrets: { TOKEN: 'ws' } })).json;
});

after(async () => {
  await world.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await pki.remove();
});

function open(path: string): WebSocket {
  const port = Number(world.daemon.daemon.proxyAddress.split(':').at(-1));
  const agent = new HttpsProxyAgentForWs(port, world.caPem, { accessToken: sandbox.access_token });
  return new WebSocket(`wss://${HOST}${path}`, { agent, headers: { authorization: `Bearer ${sandbox.env.TOKEN}` } });
}

const next = (ws: WebSocket): Promise<string> =>
  new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
  });

test('a value split across fragments of one message comes back as the stand-in', async () => {
  const ws = open('/fragments');
  assert.equal(await next(ws), `a=${sandbox.env.TOKEN};`);
  ws.terminate();
});

test('a message ending in the start of the value is delivered at once, with nothing after it', async () => {
  const ws = open('/prefix');
  await new Promise((resolve) => ws.once('open', resolve));
  const started = Date.now();
  for (const question of ['one', 'two']) {
    ws.send(question);
    assert.equal(await next(ws), `${question}:${REAL.slice(0, 8)}`);
  }
  assert.ok(Date.now() - started < 5_000, 'answers arrived without waiting for more upstream bytes');
  ws.terminate();
});

test('ping, pong and close payloads are scrubbed', async () => {
  const ws = open('/control');
  const ping = await new Promise<string>((resolve) => ws.once('ping', (data) => resolve(String(data))));
  assert.equal(ping, `ping ${sandbox.env.TOKEN}`);
  // ws answers the ping with the payload it got (the stand-in): the upstream reports it back.
  assert.equal(await next(ws), `pong was ping ${sandbox.env.TOKEN}`);
  ws.send('close please');
  const [code, reason] = await new Promise<[number, string]>((resolve) => ws.once('close', (c, r) => resolve([c, String(r)])));
  assert.equal(code, 4000);
  assert.equal(reason, `bye ${sandbox.env.TOKEN}`);
});

test('binary messages are scrubbed and stay binary', async () => {
  const ws = open('/binary');
  const [data, isBinary] = await new Promise<[Buffer, boolean]>((resolve) => ws.once('message', (d, b) => resolve([d as Buffer, b])));
  assert.equal(isBinary, true);
  assert.equal(data.toString(), `bin ${sandbox.env.TOKEN} end`);
  ws.terminate();
});
