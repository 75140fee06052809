import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAuthority } from '../../../src/proxy/tunnel.js';

test('parseAuthority accepts host:port and [v6]:port, lowercasing the host', () => {
  assert.deepEqual(parseAuthority('API.Example.test:443'), { host: 'api.example.test', port: 443 });
  assert.deepEqual(parseAuthority('[::1]:8443'), { host: '::1', port: 8443 });
  assert.deepEqual(parseAuthority('127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
});

test('parseAuthority gives the canonical spelling of numeric hosts', () => {
  assert.deepEqual(parseAuthority('2130706433:443'), { host: '127.0.0.1', port: 443 });
  assert.deepEqual(parseAuthority('0x7f.1:443'), { host: '127.0.0.1', port: 443 });
  assert.deepEqual(parseAuthority('[::ffff:0.0.0.0]:8081'), { host: '0.0.0.0', port: 8081 });
  assert.deepEqual(parseAuthority('[0:0::1]:443'), { host: '::1', port: 443 });
});

test('parseAuthority rejects what is not an authority', () => {
  for (const bad of ['', 'host', ':443', 'host:0', 'host:65536', 'host:x', '::1:443', '[::1:443', 'a b:443', 'a/b:443', 'u@h:443', '1.2.3.4.5:443']) {
    assert.equal(parseAuthority(bad), undefined, bad);
  }
});
