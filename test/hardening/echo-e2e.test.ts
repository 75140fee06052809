import assert from 'node:assert/strict';
import type { RequestListener } from 'node:http';
import { after, before, test } from 'node:test';
import { brotliCompressSync, deflateRawSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { curlViaProxy } from '../helpers/clients.js';
import { DECODABLE_ENCODINGS } from '../../src/response/index.js';
import { writeInSlices } from '../helpers/hostile-upstream.js';
import { type SecretWorld, startSecretWorld, type World } from '../helpers/harness/index.js';

const REAL = 'sk-REAL-echo/e2e+value=42';
/** Bytes per write on the upstream side, so the value straddles chunk boundaries. */
const SLICE = 5;

let setup: SecretWorld;
let world: World;
let sandbox: SecretWorld['sandbox'];

/** Echoes the Authorization it received (raw, base64 and JSON-escaped) as a chunked body, encoded as asked. */
function echo(encoding: string, auth: string, repeat = 20): { body: Buffer; encoding?: string } {
  const value = auth.replace(/^Bearer /, '');
  const text = `raw=${value}\nb64=${Buffer.from(value).toString('base64')}\njson=${JSON.stringify({ v: value }).replaceAll('/', '\\/')}\n`.repeat(repeat);
  if (encoding === 'gzip') return { body: gzipSync(text), encoding };
  if (encoding === 'br') return { body: brotliCompressSync(Buffer.from(text)), encoding };
  if (encoding === 'gzip, gzip') return { body: gzipSync(gzipSync(text)), encoding };
  if (encoding === 'identity, gzip') return { body: gzipSync(text), encoding };
  if (encoding === 'raw-deflate') return { body: deflateRawSync(text), encoding: 'deflate' };
  // Labelled with a coding the proxy cannot decode, but really the plain text: relayed, it would leak.
  if (encoding === 'zstd' || encoding === 'compress') return { body: Buffer.from(text), encoding };
  return { body: Buffer.from(text) };
}

/** Answers with echo(), written SLICE bytes at a time; `?length` adds a Content-Length. */
const echoUpstream: RequestListener = (req, res) => {
  const query = new URL(req.url!, 'https://x').searchParams;
  const { body, encoding } = echo(query.get('enc') ?? '', String(req.headers.authorization), Number(query.get('repeat') ?? 20));
  res.writeHead(200, {
    'content-type': 'text/plain',
    'x-echo': String(req.headers.authorization),
    'x-accept-encoding': String(req.headers['accept-encoding']),
    ...(encoding ? { 'content-encoding': encoding } : {}),
    ...(query.has('length') ? { 'content-length': body.length } : {}),
    ...(query.has('te') ? { 'transfer-encoding': `${query.get('te')}, chunked` } : {}),
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  writeInSlices(res, body, SLICE);
};

before(async () => {
  setup = await startSecretWorld({ name: 'echo', host: 'echo.test', value: REAL, upstream: echoUpstream });
  ({ world, sandbox } = setup);
});

after(() => setup.close());

for (const encoding of ['', 'gzip', 'br', 'gzip, gzip', 'identity, gzip', 'raw-deflate']) {
  test(`echo through the real proxy: chunked ${encoding || 'identity'} body in ${SLICE}-byte writes → only the stand-in comes back`, async () => {
    const standIn: string = sandbox.env.TOKEN;
    const res = await request(`https://echo.test/echo?enc=${encodeURIComponent(encoding)}`, {
      dispatcher: world.agentFor(sandbox.access_token),
      headers: { authorization: `Bearer ${standIn}`, 'accept-encoding': 'gzip, br' },
    });
    const body = Buffer.from(await res.body.arrayBuffer()).toString('utf8');
    assert.equal(res.statusCode, 200);
    assert.ok(res.headers['content-encoding'] === undefined || res.headers['content-encoding'] === 'identity', 'decoded for scrubbing');
    assert.equal(res.headers['x-echo'], `Bearer ${standIn}`);
    assert.equal(body, scrubbed(standIn, 20));
    for (const form of [REAL, Buffer.from(REAL).toString('base64'), REAL.replaceAll('/', '\\/')]) assert.ok(!body.includes(form));
  });
}

for (const [label, query] of [
  ["zstd (not in Node 20's zlib)", 'enc=zstd'],
  ['compress', 'enc=compress'],
  ['a gzip transfer-coding', 'te=gzip'],
]) {
  test(`an injected request's response in ${label} is withheld with upstream_encoding_unsupported, never relayed`, async (t) => {
    if (query === 'enc=zstd' && 'zstdCompressSync' in (await import('node:zlib'))) {
      t.skip('this Node decodes zstd; the decoded case is covered by the echo tests');
      return;
    }
    const res = await request(`https://echo.test/echo?${query}`, {
      dispatcher: world.agentFor(sandbox.access_token),
      headers: { authorization: `Bearer ${sandbox.env.TOKEN}` },
    });
    const body = await res.body.text();
    assert.equal(res.statusCode, 502);
    assert.equal(res.headers['x-credproxy-reason'], 'upstream_encoding_unsupported');
    assert.ok(!body.includes(REAL) && !JSON.stringify(res.headers).includes(REAL));
  });
}

test('HEAD in an undecodable coding has no body to search: its head is relayed', async () => {
  const res = await request('https://echo.test/echo?enc=zstd', {
    method: 'HEAD',
    dispatcher: world.agentFor(sandbox.access_token),
    headers: { authorization: `Bearer ${sandbox.env.TOKEN}` },
  });
  await res.body.dump();
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['x-echo'], `Bearer ${sandbox.env.TOKEN}`);
});

test('curl --compressed gets raw deflate decoded, not an empty reply (curl: (52))', async () => {
  const port = Number(world.daemon.daemon.proxyAddress.split(':').at(-1));
  const result = await curlViaProxy(port, world.daemon.daemon.caPath, 'https://echo.test/echo?enc=raw-deflate', [
    '--compressed',
    '--proxy-user',
    `sb:${sandbox.access_token}`,
    '-H',
    `Authorization: Bearer ${sandbox.env.TOKEN}`,
  ]);
  assert.equal(result.exitCode, 0);
  assert.equal(result.status, 200);
  assert.equal(Buffer.from(result.body, 'latin1').toString('utf8'), scrubbed(sandbox.env.TOKEN, 20));
});

test('a request with a stand-in asks the upstream only for codings the scrubber can decode', async () => {
  const res = await request('https://echo.test/echo', {
    dispatcher: world.agentFor(sandbox.access_token),
    headers: { authorization: `Bearer ${sandbox.env.TOKEN}`, 'accept-encoding': 'zstd, compress, *' },
  });
  await res.body.text();
  assert.equal(res.headers['x-accept-encoding'], DECODABLE_ENCODINGS);
});

/** The bytes the echo body becomes once every real value in it is the stand-in. */
function scrubbed(standIn: string, repeat: number): string {
  return `raw=${standIn}\nb64=${Buffer.from(standIn).toString('base64')}\njson=${JSON.stringify({ v: standIn })}\n`.repeat(repeat);
}

for (const repeat of [20, 2000]) {
  test(`echo with Content-Length (${repeat} lines): the client gets the stand-in and a length that matches what it receives`, async () => {
    const standIn: string = sandbox.env.TOKEN;
    const res = await request(`https://echo.test/echo?length=1&repeat=${repeat}`, {
      dispatcher: world.agentFor(sandbox.access_token),
      headers: { authorization: `Bearer ${standIn}` },
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    assert.equal(res.statusCode, 200);
    assert.equal(body.toString('utf8'), scrubbed(standIn, repeat));
    for (const form of [REAL, Buffer.from(REAL).toString('base64')]) assert.ok(!body.includes(form), 'no form of the real value came back');
    if (repeat === 20) {
      // Small: held, scrubbed whole, sent with its new length.
      assert.equal(res.headers['content-length'], String(body.length));
      assert.equal(res.headers['transfer-encoding'], undefined);
    } else {
      // Past the hold limit it streams: the old length would be wrong, so there is none.
      assert.equal(res.headers['content-length'], undefined);
    }
  });
}

test('HEAD with Content-Length through a scrubbed exchange: no body, no invented length', async () => {
  const standIn: string = sandbox.env.TOKEN;
  const res = await request('https://echo.test/echo?length=1', {
    method: 'HEAD',
    dispatcher: world.agentFor(sandbox.access_token),
    headers: { authorization: `Bearer ${standIn}` },
  });
  await res.body.dump();
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['x-echo'], `Bearer ${standIn}`);
  assert.notEqual(res.headers['content-length'], '0');
});
