import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, RequestListener } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, before, test } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { DECODABLE_ENCODINGS } from '../../src/response/index.js';
import { writeInSlices } from '../helpers/hostile-upstream.js';
import { HttpsProxyAgentForWs } from '../helpers/ws-agent.js';
import { type SecretWorld, startSecretWorld } from '../helpers/harness/index.js';

/**
 * Issue #13 item 1: a request carrying `Connection: Upgrade` used to take a raw byte relay that
 * neither forced Accept-Encoding nor decoded or scrubbed the answer. An upstream that ignores the
 * Upgrade and answers normally must be scrubbed like any other response; only a real 101 switches.
 */
const REAL = 'sk-REAL-upgrade/bypass+value=7';
const HOST = 'upgrade.test';
const FORMS = [REAL, Buffer.from(REAL).toString('base64'), REAL.replaceAll('/', '\\/')];

let setup: SecretWorld;

/** Ignores any Upgrade (no 'upgrade' listener: Node serves it as a request) and echoes the credential. */
const ignoringUpstream: RequestListener = (req, res) => {
  const query = new URL(req.url!, 'https://x').searchParams;
  const value = String(req.headers.authorization).replace(/^Bearer /, '');
  const text = `raw=${value}\nb64=${Buffer.from(value).toString('base64')}\njson=${JSON.stringify({ v: value }).replaceAll('/', '\\/')}\n`.repeat(10);
  const encoding = query.get('enc') ?? '';
  const body = encoding === 'gzip' ? gzipSync(text) : encoding === 'br' ? brotliCompressSync(text) : Buffer.from(text);
  res.writeHead(200, {
    'content-type': 'text/plain',
    'x-echo': String(req.headers.authorization),
    'x-accept-encoding': String(req.headers['accept-encoding']),
    'x-upgrade': String(req.headers.upgrade),
    ...(encoding ? { 'content-encoding': encoding } : {}),
    ...(query.has('length') ? { 'content-length': body.length } : {}),
  });
  writeInSlices(res, body, 3);
};

before(async () => {
  setup = await startSecretWorld({ name: 'upgrade', host: HOST, value: REAL, upstream: ignoringUpstream });
});

after(() => setup.close());

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  upgraded: boolean;
}

/** An Upgrade request through a CONNECT tunnel, as Node's http client sends it; the body decoded as a client would. */
function upgradeRequest(path: string, upgrade: string, extra: Record<string, string> = {}, body?: string): Promise<Answer> {
  const { world, sandbox } = setup;
  const port = Number(world.daemon.daemon.proxyAddress.split(':')[1]);
  const agent = new HttpsProxyAgentForWs(port, world.caPem, { accessToken: sandbox.access_token });
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: HOST,
      port: 443,
      path,
      agent,
      headers: {
        connection: 'Upgrade',
        upgrade,
        authorization: `Bearer ${sandbox.env.TOKEN}`,
        'accept-encoding': 'gzip, br, zstd',
        ...extra,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode!, headers: res.headers, body: '', upgraded: true });
    });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => {
        const raw = Buffer.concat(parts);
        const coding = res.headers['content-encoding'];
        const body = coding === 'gzip' ? gunzipSync(raw) : coding === 'br' ? brotliDecompressSync(raw) : raw;
        resolve({ status: res.statusCode!, headers: res.headers, body: body.toString('utf8'), upgraded: false });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function assertScrubbed(label: string, answer: Answer): void {
  const standIn = setup.sandbox.env.TOKEN;
  const everything = JSON.stringify(answer.headers) + answer.body;
  for (const form of FORMS) assert.ok(!everything.includes(form), `${label}: a form of the real value reached the sandbox`);
  assert.equal(answer.headers['x-echo'], `Bearer ${standIn}`, `${label}: the echoed header carries the stand-in`);
  assert.ok(answer.body.includes(`raw=${standIn}\n`), `${label}: the body echo carries the stand-in`);
}

const WEBSOCKET = { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };

for (const [label, path] of [
  ['gzip, chunk-split', '/echo?enc=gzip'],
  ['br, chunk-split', '/echo?enc=br'],
  ['identity, chunk-split', '/echo'],
  ['identity with Content-Length (held and scrubbed whole)', '/echo?length=1'],
] as const) {
  test(`Upgrade: websocket, upstream ignores it and answers ${label}: scrubbed like any response`, async () => {
    const answer = await upgradeRequest(path, 'websocket', WEBSOCKET);
    assert.equal(answer.upgraded, false);
    assert.equal(answer.status, 200);
    assert.ok([undefined, 'identity'].includes(answer.headers['content-encoding']), 'decoded for scrubbing');
    assert.equal(answer.headers['x-accept-encoding'], DECODABLE_ENCODINGS, 'Accept-Encoding forced as for any injected request');
    assert.equal(answer.headers['x-upgrade'], 'websocket', 'the upgrade was asked for');
    assertScrubbed(label, answer);
  });
}

test('Upgrade: h2c with an injected credential goes as an ordinary request, scrubbed', async () => {
  const answer = await upgradeRequest('/echo?enc=gzip', 'h2c', { 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' });
  assert.equal(answer.upgraded, false);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['x-upgrade'], 'undefined', 'h2c, whose frames cannot be scrubbed, is not asked for');
  assertScrubbed('h2c', answer);
});

test('an Upgrade request with a body is refused (the parser stops at its head)', async () => {
  const answer = await upgradeRequest('/echo', 'websocket', { ...WEBSOCKET, 'content-length': '5' }, 'hello');
  assert.equal(answer.status, 400);
  assert.equal(answer.headers['x-credproxy-reason'], 'bad_request');
});
