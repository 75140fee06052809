import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { rawExchange } from '../helpers/clients.js';
import { startDaemon, type TestDaemon } from '../helpers/harness/index.js';

/**
 * Issue #13 item 13, through the real daemon's admin listener: a page whose name an attacker
 * rebinds to the admin address cannot read /metrics (which names secrets) or /ca.pem, because
 * the Host must be one of the API's own names; and `Expect: 100-continue` is answered only once
 * the request passed admission (Host and API key).
 */
let daemon: TestDaemon;
let port: number;

before(async () => {
  daemon = await startDaemon({ flags: { 'log.level': 'warn', 'admin.allowedHosts': ['credproxy.example.internal'] } });
  port = Number(daemon.daemon.adminAddress.split(':').at(-1));
  assert.equal(
    (await daemon.api('POST', '/secrets', { name: 'named-in-metrics', value: 'REAL-admin-host-1', auth: { type: 'bearer' }, hosts: ['api.example.test'] }))
      .status,
    201,
  );
});

after(() => daemon.close());

async function get(path: string, host: string): Promise<{ status: number; text: string }> {
  const { text } = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  return { status: Number(text.slice(9, 12)), text };
}

test('a rebound name is refused on every route, the API key notwithstanding', async () => {
  for (const host of ['attacker.example:8081', `rebind.attacker.test:${port}`, 'evil.com', 'localhost.attacker.test']) {
    for (const path of ['/metrics', '/ca.pem', '/healthz', '/secrets']) {
      const res = await get(path, host);
      assert.equal(res.status, 400, `${host}${path}`);
      assert.match(res.text, /"code":"bad_request"/);
      assert.ok(!res.text.includes('BEGIN CERTIFICATE') && !res.text.includes('credproxy_'), 'nothing of the resource');
    }
  }
  const { text } = await rawExchange(port, `GET /secrets HTTP/1.1\r\nHost: evil.com\r\nX-API-Key: ${daemon.daemon.apiKey}\r\nConnection: close\r\n\r\n`);
  assert.match(text, /^HTTP\/1\.1 400 /);
  assert.ok(!text.includes('named-in-metrics'));
});

test("IP literals, localhost, service names and admin.allowedHosts are the API's own names", async () => {
  for (const host of [
    `127.0.0.1:${port}`,
    '127.0.0.1',
    `[::1]:${port}`,
    `localhost:${port}`,
    'LOCALHOST',
    'credproxy:8081',
    'credproxy-control',
    'credproxy.example.internal',
    `credproxy.example.internal:${port}`,
    '10.1.2.3:8081',
  ]) {
    const res = await get('/metrics', host);
    assert.equal(res.status, 200, host);
    assert.match(res.text, /credproxy_requests_total/);
  }
  assert.equal((await get('/ca.pem', 'localhost')).status, 200);
});

/** Sends a POST head with `Expect: 100-continue` and reports what came back before the body was sent. */
function expectContinue(headers: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const body = JSON.stringify({ name: `via-expect-${Date.now()}`, value: 'REAL-admin-host-2', auth: { type: 'bearer' }, hosts: ['api.example.test'] });
    let text = '';
    let sent = false;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(text);
    }, 3000);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!sent && text.startsWith('HTTP/1.1 100')) {
        sent = true;
        socket.write(body);
      }
      if (/\r\n\r\n[\s\S]*\}\s*$/.test(text.replace(/^HTTP\/1\.1 100[^\r]*\r\n\r\n/, ''))) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', () => undefined);
    socket.write(
      `POST /secrets HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Expect: 100-continue\r\nConnection: close\r\n${headers}\r\n`,
    );
  });
}

test('Expect: 100-continue is answered only after admission: refused requests get their refusal, not 100', async () => {
  const refusedKey = await expectContinue('X-API-Key: wrong-key-0123456789abcdef\r\n');
  assert.match(refusedKey, /^HTTP\/1\.1 401 /, 'the 401 comes first, with no 100 before it');
  const refusedHost = await expectContinue(`X-API-Key: ${daemon.daemon.apiKey}\r\n`, 'rebind.attacker.test');
  assert.match(refusedHost, /^HTTP\/1\.1 400 /, 'a foreign Host is refused before 100 as well');
  const admitted = await expectContinue(`X-API-Key: ${daemon.daemon.apiKey}\r\n`);
  assert.match(admitted, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
});
