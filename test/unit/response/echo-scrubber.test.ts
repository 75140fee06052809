import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import * as zlib from 'node:zlib';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { DECODABLE_ENCODINGS, EchoForms, ResponseEchoScrubber } from '../../../src/response/index.js';

// Chosen so its base64 holds a '/' and one '=' of padding where the stand-in's has two.
const REAL = 'sk"live/ab\\cd<e>&f+é✓~~?xy';
const STAND_IN = 'sk-test-AbCdEfGhIjKlMnOpQrStUv0123';
const USER = 'x-access-token';

function scrubber(): ResponseEchoScrubber {
  return new ResponseEchoScrubber([EchoForms.forValue(REAL, STAND_IN), EchoForms.forBasic(USER, REAL, STAND_IN)]);
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const json = (s: string) => JSON.stringify(s).slice(1, -1);
const asciiJson = (s: string) => json(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const htmlSafeJson = (s: string) => json(s).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');

/** Every printed form of the real value, each with what it must become. */
const FORMS: [string, string][] = [
  [REAL, STAND_IN],
  [b64(REAL), b64(STAND_IN)],
  [b64(REAL).replace(/=+$/, ''), b64(STAND_IN).replace(/=+$/, '')],
  [b64(`${USER}:${REAL}`), b64(`${USER}:${STAND_IN}`)],
  [json(REAL), STAND_IN],
  [json(REAL).replaceAll('/', '\\/'), STAND_IN],
  [asciiJson(REAL), STAND_IN],
  [htmlSafeJson(REAL), STAND_IN],
  [json(b64(REAL)).replaceAll('/', '\\/'), b64(STAND_IN).replaceAll('/', '\\/')],
  [encodeURIComponent(REAL), STAND_IN],
  [new URLSearchParams({ v: REAL }).toString().slice(2), STAND_IN],
  [encodeURIComponent(b64(REAL)), encodeURIComponent(b64(STAND_IN))],
  [Buffer.from(REAL, 'utf8').toString('latin1'), STAND_IN],
  // Windows-1252 reads the bytes of é✓ (c3 a9 e2 9c 93) as Ã © â œ “, where latin1 has two control characters.
  ['sk"live/ab\\cd<e>&f+\u00c3\u00a9\u00e2\u0153\u201c~~?xy', STAND_IN],
];

const BODY_IN = FORMS.map(([from], i) => `{"echo${i}":"${from}"}\n`).join('');
const BODY_OUT = FORMS.map(([, to], i) => `{"echo${i}":"${to}"}\n`).join('');

async function run(transform: Transform, chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), transform, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

function assertClean(text: string): void {
  for (const [from] of FORMS) assert.ok(!text.includes(from), `a form of the real value survived: ${JSON.stringify(from)}`);
  assert.ok(!text.includes(REAL));
}

test('the forms differ from one another (the test covers distinct encodings)', () => {
  assert.equal(new Set(FORMS.map(([f]) => f)).size, FORMS.length);
});

test('headers: raw, base64 and JSON-escaped echoes are put back to the stand-in', () => {
  const headers: Record<string, string | string[] | undefined> = {
    'x-echo': `token=${REAL}; other`,
    'www-authenticate': `Basic ${b64(`${USER}:${REAL}`)}`,
    'set-cookie': [`a=${b64(REAL)}`, 'b=plain'],
    'x-json': `{"k":"${json(REAL)}"}`,
    'content-type': 'application/json',
    'x-none': undefined,
  };
  // Node's header strings are latin1: present the UTF-8 bytes that way, as a socket would.
  for (const k of Object.keys(headers)) {
    const v = headers[k];
    if (typeof v === 'string') headers[k] = Buffer.from(v, 'utf8').toString('latin1');
  }
  scrubber().scrubHeaders(headers);
  const text = (v: unknown) => Buffer.from(String(v), 'latin1').toString('utf8');
  assert.equal(text(headers['x-echo']), `token=${STAND_IN}; other`);
  assert.equal(text(headers['www-authenticate']), `Basic ${b64(`${USER}:${STAND_IN}`)}`);
  assert.deepEqual(headers['set-cookie'], [`a=${b64(STAND_IN)}`, 'b=plain']);
  assert.equal(JSON.parse(text(headers['x-json'])).k, STAND_IN);
  assert.equal(headers['content-type'], 'application/json');
  assertClean(Object.values(headers).map(text).join('\n'));
});

test('body: every form replaced whatever offset the body is split at', async () => {
  const body = Buffer.from(BODY_IN, 'utf8');
  for (let cut = 0; cut <= body.length; cut++) {
    const { transform, contentEncoding } = scrubber().bodyTransform(undefined)!;
    assert.equal(contentEncoding, undefined);
    const out = (await run(transform, [body.subarray(0, cut), body.subarray(cut)])).toString('utf8');
    assert.equal(out, BODY_OUT, `split at ${cut}`);
  }
});

test('body: one byte per chunk, and three-way splits', async () => {
  const body = Buffer.from(BODY_IN, 'utf8');
  const bytes = Array.from(body, (_, i) => body.subarray(i, i + 1));
  assert.equal((await run(scrubber().bodyTransform('identity')!.transform, bytes)).toString('utf8'), BODY_OUT);
  for (let a = 1; a < body.length; a += 7) {
    for (let b = a; b < body.length; b += 13) {
      const out = await run(scrubber().bodyTransform(undefined)!.transform, [body.subarray(0, a), body.subarray(a, b), body.subarray(b)]);
      assert.equal(out.toString('utf8'), BODY_OUT);
    }
  }
});

test('body: small chunks (searched in JS) and large ones (native indexOf) give the same result', async () => {
  const repeat = 60; // ≈ 14 KB: chunks on both sides of the 1 KiB switch, and matches across their edges
  const body = Buffer.from(BODY_IN.repeat(repeat), 'utf8');
  for (const size of [1, 97, 1023, 1024, 1025, 4096, body.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < body.length; i += size) chunks.push(body.subarray(i, i + size));
    const replacer = scrubber().bodyReplacer(undefined)!;
    const out = Buffer.concat([...chunks.flatMap((chunk) => replacer.write(chunk)), ...replacer.end()]);
    assert.equal(out.toString('utf8'), BODY_OUT.repeat(repeat), `chunks of ${size}`);
  }
});

test('body: a chunk that cannot start a real value is passed on at once (SSE keeps flowing)', async () => {
  const { transform } = scrubber().bodyTransform(undefined)!;
  const seen: string[] = [];
  transform.on('data', (chunk: Buffer) => seen.push(chunk.toString('utf8')));
  transform.write(Buffer.from('data: {"delta":"hello"}\n\n'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(seen, ['data: {"delta":"hello"}\n\n']);
  // The start of the real value is held until it is known not to be one.
  transform.write(Buffer.from('data: sk"li'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(seen.join(''), 'data: {"delta":"hello"}\n\ndata: ');
  transform.end(Buffer.from('ke\n\n'));
  await new Promise((resolve) => transform.on('end', resolve));
  assert.equal(seen.join(''), 'data: {"delta":"hello"}\n\ndata: sk"like\n\n');
});

const twice = (compress: (b: Buffer) => Buffer, other: (b: Buffer) => Buffer) => (b: Buffer) => other(compress(b));
const CODINGS: Array<[string, (b: Buffer) => Buffer]> = [
  ['gzip', gzipSync],
  ['x-gzip', gzipSync],
  ['br', brotliCompressSync],
  ['deflate', deflateSync],
  ['deflate', deflateRawSync], // raw deflate without its zlib header, as some servers send it
  ['gzip, gzip', twice(gzipSync, gzipSync)],
  ['identity, gzip', gzipSync],
  ['deflate, br', twice(deflateSync, brotliCompressSync)],
  ['gzip, identity', gzipSync],
];
for (const [encoding, compress] of CODINGS) {
  test(`body: ${encoding} (${compress.name || 'stacked'}) is decoded, scrubbed and reported as identity`, async () => {
    const compressed = compress(Buffer.from(BODY_IN.repeat(50), 'utf8'));
    const { transform, contentEncoding } = scrubber().bodyTransform(encoding.toUpperCase())!;
    assert.equal(contentEncoding, 'identity');
    const chunks = [];
    for (let i = 0; i < compressed.length; i += 97) chunks.push(compressed.subarray(i, i + 97));
    const out = (await run(transform, chunks)).toString('utf8');
    assert.equal(out, BODY_OUT.repeat(50));
  });
}

test('body: raw deflate arriving one byte at a time is still told from zlib deflate', async () => {
  const compressed = deflateRawSync(Buffer.from(BODY_IN, 'utf8'));
  const chunks = [...compressed].map((byte) => Buffer.from([byte]));
  assert.equal((await run(scrubber().bodyTransform('deflate')!.transform, chunks)).toString('utf8'), BODY_OUT);
});

test('body: a corrupt gzip body fails the stream instead of passing bytes through', async () => {
  const { transform } = scrubber().bodyTransform('gzip')!;
  await assert.rejects(run(transform, [Buffer.from('definitely not gzip')]));
});

test('body: an encoding it cannot decode is refused, never passed through', () => {
  for (const encoding of ['compress', 'x-unknown', 'gzip, compress', 'gzip, gzip, gzip, gzip']) {
    assert.equal(scrubber().bodyTransform(encoding), undefined, encoding);
    assert.equal(scrubber().bodyReplacer(encoding), undefined, encoding);
  }
  assert.ok(scrubber().bodyReplacer('identity, identity'), 'identity tokens alone need no decoding');
});

const zstd = (zlib as { zstdCompressSync?: (b: Buffer) => Buffer }).zstdCompressSync;
test('body: zstd is decoded where Node has it, refused (and not asked for) where it does not', async () => {
  if (zstd === undefined) {
    assert.equal(scrubber().bodyTransform('zstd'), undefined);
    assert.equal(DECODABLE_ENCODINGS, 'gzip, deflate, br');
    return;
  }
  assert.equal(DECODABLE_ENCODINGS, 'gzip, deflate, br, zstd');
  const out = await run(scrubber().bodyTransform('zstd')!.transform, [zstd(Buffer.from(BODY_IN, 'utf8'))]);
  assert.equal(out.toString('utf8'), BODY_OUT);
});

test('echo forms never print their contents', () => {
  const forms = EchoForms.forValue(REAL, STAND_IN);
  assert.equal(JSON.stringify({ forms }), '{"forms":"[redacted]"}');
  assert.ok(!inspect(forms).includes('sk'));
});
