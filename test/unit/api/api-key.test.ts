import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { requireApiKey } from '../../../src/api/api-key.js';
import { toFailure } from '../../../src/api/error-envelope.js';
import { ApiError } from '../../../src/errors.js';

test('api-key hook: the key is validated when it is installed', async () => {
  for (const apiKey of ['', 'short', 42 as unknown as string]) {
    const app = Fastify();
    assert.throws(() => requireApiKey(app, apiKey), /apiKey must be a string of at least 16 characters/);
    await app.close();
  }
});

test('api-key hook: it covers routes declared after it', async () => {
  const app = Fastify();
  requireApiKey(app, 'k'.repeat(32));
  app.get('/x', async () => 'ok');
  app.get('/open', { config: { auth: false } }, async () => 'open');
  app.setErrorHandler((err, _request, reply) => reply.code((err as ApiError).status ?? 500).send({ code: (err as ApiError).code }));
  try {
    assert.equal((await app.inject({ url: '/x' })).statusCode, 401);
    assert.equal((await app.inject({ url: '/x', headers: { 'x-api-key': 'k'.repeat(32) } })).statusCode, 200);
    assert.equal((await app.inject({ url: '/open' })).statusCode, 200);
  } finally {
    await app.close();
  }
});

test('error mapping: ApiError as is, body errors as fixed texts, the rest as 500', () => {
  assert.deepEqual(toFailure(new ApiError('conflict', 'taken')), { status: 409, code: 'conflict', message: 'taken', internal: false });
  assert.equal(toFailure(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })).code, 'payload_too_large');
  const parse = toFailure(Object.assign(new SyntaxError('Unexpected token in "secret-value"'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }));
  assert.deepEqual(parse, { status: 400, code: 'bad_request', message: 'request body is not valid JSON', internal: false });
  assert.deepEqual(toFailure(new TypeError('boom')), { status: 500, code: 'internal_error', message: 'internal error', internal: true });
});
