import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { ProxyRejection, REJECTIONS } from '../../../src/errors.js';
import { rejectionBody, upstreamRejection, writeRejectionToSocket } from '../../../src/proxy/reject.js';

const err = (code: string): Error => Object.assign(new Error(`boom with Authorization: Bearer sk-secret (${code})`), { code });

test('upstream errors map to the contract codes by error code', () => {
  const cases: Array<[string, string]> = [
    ['ECONNREFUSED', 'upstream_unreachable'],
    ['ECONNRESET', 'upstream_unreachable'],
    ['ENOTFOUND', 'upstream_unreachable'],
    ['EAI_AGAIN', 'upstream_unreachable'],
    ['UND_ERR_SOCKET', 'upstream_unreachable'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'upstream_tls_error'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'upstream_tls_error'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'upstream_tls_error'],
    ['CERT_HAS_EXPIRED', 'upstream_tls_error'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'upstream_tls_error'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'upstream_tls_error'],
    ['UND_ERR_CONNECT_TIMEOUT', 'upstream_timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 'upstream_timeout'],
  ];
  for (const [code, expected] of cases) {
    const rejection = upstreamRejection(err(code));
    assert.equal(rejection.code, expected, code);
    assert.ok(!rejectionBody(rejection).includes('sk-secret'), 'an error message reached the body');
  }
  assert.equal(upstreamRejection(new Error('no code')).code, 'upstream_unreachable');
  const denied = new ProxyRejection('internal_address_denied');
  assert.equal(upstreamRejection(denied), denied);
});

test('the raw writer sends the reason headers, a one-line hint and closes', async () => {
  const socket = new PassThrough();
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const ended = new Promise((resolve) => socket.on('end', resolve));
  writeRejectionToSocket(socket, new ProxyRejection('proxy_auth_required'), '0123456789abcdef01234567');
  await ended;
  const [head, body] = text.split('\r\n\r\n') as [string, string];
  assert.match(head, /^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
  assert.match(head, /\r\nX-Credproxy-Error: true\r\nX-Credproxy-Reason: proxy_auth_required\r\n/);
  assert.match(head, /\r\nX-Credproxy-Request-Id: 0123456789abcdef01234567\r\n/);
  assert.match(head, /\r\nProxy-Authenticate: Basic realm="credproxy"\r\n/);
  assert.match(head, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
  assert.equal(body, `${REJECTIONS.proxy_auth_required.hint}\n`);
});

test('detail follows the hint on the same line', () => {
  assert.equal(rejectionBody(new ProxyRejection('host_denied', 'deny_out a.test')), `${REJECTIONS.host_denied.hint} (deny_out a.test)\n`);
});
