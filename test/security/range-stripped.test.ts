import assert from 'node:assert/strict';
import type { RequestListener } from 'node:http';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { type SecretWorld, startSecretWorld } from '../helpers/harness/index.js';

/**
 * Issue #13 item 6, through the real daemon: an upstream that honours Range and echoes the
 * credential could hand it out in fragments too short to be recognised, which the sandbox joins.
 * When a credential is injected, Range and If-Range are stripped unless the secret opts in with
 * `auth.allow_range`.
 */
const REAL = 'sk-REAL-range-fragments-0123456789';
const HOST = 'range.test';
let setup: SecretWorld;

/** The echo `echo=<authorization>\n`, or the byte range asked for as a 206. */
const rangeUpstream: RequestListener = (req, res) => {
  const body = Buffer.from(`echo=${String(req.headers.authorization)}\n`);
  const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
  const common = {
    'content-type': 'text/plain',
    'accept-ranges': 'bytes',
    'x-saw-range': String(req.headers.range),
    'x-saw-if-range': String(req.headers['if-range']),
  };
  if (!range) {
    res.writeHead(200, { ...common, 'content-length': body.length }).end(body);
    return;
  }
  const [from, to] = [Number(range[1]), Math.min(Number(range[2]), body.length - 1)];
  res.writeHead(206, { ...common, 'content-range': `bytes ${from}-${to}/${body.length}`, 'content-length': to - from + 1 }).end(body.subarray(from, to + 1));
};

before(async () => {
  setup = await startSecretWorld({ name: 'range', host: HOST, value: REAL, upstream: rangeUpstream });
  const created = await setup.world.daemon.api('POST', '/secrets', { name: 'ranged', value: REAL, auth: { type: 'bearer', allow_range: true }, hosts: [HOST] });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.json.auth_config, { allow_range: true });
});

after(() => setup.close());

async function fetchRange(token: string, standIn: string, range: string): Promise<{ status: number; text: string; sawRange: unknown }> {
  const res = await request(`https://${HOST}/file`, {
    dispatcher: setup.world.agentFor(token),
    headers: { authorization: `Bearer ${standIn}`, range, 'if-range': '"v1"' },
  });
  return { status: res.statusCode, text: await res.body.text(), sawRange: res.headers['x-saw-range'] };
}

test('an injected request loses Range and If-Range: the echo comes whole and scrubbed, never in joinable pieces', async () => {
  const { access_token: token, env } = setup.sandbox;
  let joined = '';
  for (let from = 0; from < 60; from += 6) {
    const part = await fetchRange(token, env.TOKEN, `bytes=${from}-${from + 5}`);
    assert.equal(part.status, 200);
    assert.equal(part.sawRange, 'undefined');
    assert.equal(part.text, `echo=Bearer ${env.TOKEN}\n`);
    joined += part.text;
  }
  assert.ok(!joined.includes(REAL));
});

test('a secret with auth.allow_range keeps Range (the operator accepts fragments for it)', async () => {
  const sandbox = (await setup.world.daemon.api('POST', '/sandboxes', { name: 'ranged', secrets: { TOKEN: 'ranged' } })).json;
  const part = await fetchRange(sandbox.access_token, sandbox.env.TOKEN, 'bytes=0-4');
  assert.equal(part.status, 206);
  assert.equal(part.sawRange, 'bytes=0-4');
  assert.equal(part.text, 'echo=');
});

test('a request without a credential keeps Range', async () => {
  const part = await fetchRange(setup.sandbox.access_token, 'not-a-stand-in', 'bytes=0-3');
  assert.equal(part.status, 206);
  assert.equal(part.text, 'echo');
});
