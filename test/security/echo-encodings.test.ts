import assert from 'node:assert/strict';
import type { RequestListener } from 'node:http';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { type SecretWorld, startSecretWorld } from '../helpers/harness/index.js';

/**
 * Issue #13 items 3 and 4, through the real daemon: a value with a space, `+ / =` and non-ASCII
 * characters, echoed percent-encoded (encodeURIComponent, form encoding with `+` for space,
 * Python's quote, lower-case hex) in a Location header and a body, and misread as latin1 by the
 * upstream (Node reads header bytes as latin1) and written back as UTF-8 mojibake. Every form
 * must come back as the stand-in written the same way.
 */
const REAL = 'pass word+/=é✓';
const HOST = 'encodings.test';
let setup: SecretWorld;

/** Python's urllib.parse.quote (keeps `/`), as an upstream in Python would write it. */
const pythonQuote = (text: string): string =>
  encodeURIComponent(text)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const lowerHex = (text: string): string => encodeURIComponent(text).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());

/** Every echo of `value` (the credential as the upstream decoded it) and of `misread` (its bytes read as latin1). */
function echoes(value: string, misread: string): { location: string; body: string } {
  const form = new URLSearchParams({ v: value }).toString();
  return {
    location: `https://elsewhere.test/cb?a=${encodeURIComponent(value)}&${form}&c=${pythonQuote(value)}`,
    body: [
      `uri=${encodeURIComponent(value)}`,
      `form=${form}`,
      `quote=${pythonQuote(value)}`,
      `lower=${lowerHex(value)}`,
      `mojibake=${misread}`,
      `mojibake-json=${JSON.stringify(misread)}`,
      `mojibake-uri=${encodeURIComponent(misread)}`,
      `ascii-json=${JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}`,
    ].join('\n'),
  };
}

const upstream: RequestListener = (req, res) => {
  // Node hands header values over as latin1: `misread` is what a latin1-reading server sees.
  const misread = String(req.headers.authorization).replace(/^Bearer /, '');
  const value = Buffer.from(misread, 'latin1').toString('utf8');
  const { location, body } = echoes(value, misread);
  res.writeHead(302, { location, 'content-type': 'text/plain; charset=utf-8' }).end(body);
};

before(async () => {
  setup = await startSecretWorld({ name: 'encodings', host: HOST, value: REAL, upstream });
});

after(() => setup.close());

test('percent-encoded and misread echoes of the real value come back as the stand-in', async () => {
  const standIn: string = setup.sandbox.env.TOKEN;
  const res = await request(`https://${HOST}/login`, {
    dispatcher: setup.world.agentFor(setup.sandbox.access_token),
    headers: { authorization: `Bearer ${standIn}` },
  });
  const body = await res.body.text();
  assert.equal(res.statusCode, 302);
  // The stand-in is URL-safe ASCII, so each of its forms is the stand-in itself.
  const expected = echoes(standIn, standIn);
  assert.equal(res.headers.location, expected.location);
  assert.equal(body, expected.body);
  const realEchoes = echoes(REAL, Buffer.from(REAL, 'utf8').toString('latin1'));
  for (const line of [...realEchoes.body.split('\n'), realEchoes.location]) {
    const form = line.slice(line.indexOf('=') + 1);
    assert.ok(!body.includes(form) && !String(res.headers.location).includes(form), `a form reached the sandbox: ${line}`);
  }
});
