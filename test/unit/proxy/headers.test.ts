import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorityFor, forwardHeaders, relayedResponseHeaders } from '../../../src/proxy/headers.js';

test('forwardHeaders: Host from the authority, no hop-by-hop, Proxy-* or Connection-listed headers', () => {
  const out = forwardHeaders(
    {
      host: 'evil.test',
      connection: 'keep-alive, X-Secret-Hop',
      'x-secret-hop': '1',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      trailer: 'x',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      expect: '100-continue',
      'proxy-authorization': 'Basic abc',
      'proxy-connection': 'keep-alive',
      'x-kept': 'yes',
      cookie: 'a=1; b=2',
      'set-cookie': ['a', 'b'],
    },
    'api.example.test',
  );
  assert.deepEqual(out, ['host', 'api.example.test', 'x-kept', 'yes', 'cookie', 'a=1; b=2', 'set-cookie', 'a', 'set-cookie', 'b']);
});

test('forwardHeaders keeps the WebSocket handshake headers but leaves Connection and Upgrade to undici', () => {
  const out = forwardHeaders({ connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' }, 'h:8443');
  assert.deepEqual(out, ['host', 'h:8443', 'sec-websocket-key', 'k']);
});

test('relayedResponseHeaders copies all but hop-by-hop headers, and Content-Length only when asked to drop it', () => {
  const headers: Record<string, string | string[] | undefined> = {
    connection: 'close, x-hop',
    'x-hop': '1',
    'keep-alive': 'x',
    'transfer-encoding': 'chunked',
    'content-type': 'a',
    'set-cookie': ['x'],
    'content-length': '5',
  };
  const before = { ...headers };
  assert.deepEqual(relayedResponseHeaders(headers, false), { 'content-type': 'a', 'set-cookie': ['x'], 'content-length': '5' });
  assert.deepEqual(relayedResponseHeaders(headers, true), { 'content-type': 'a', 'set-cookie': ['x'] });
  assert.deepEqual(headers, before, 'the upstream object is left as it was');
});

test('authorityFor leaves out default ports and brackets IPv6', () => {
  assert.equal(authorityFor('a.test', 443, true), 'a.test');
  assert.equal(authorityFor('a.test', 8443, true), 'a.test:8443');
  assert.equal(authorityFor('a.test', 80, false), 'a.test');
  assert.equal(authorityFor('::1', 443, true), '[::1]');
  assert.equal(authorityFor('::1', 8080, false), '[::1]:8080');
});
