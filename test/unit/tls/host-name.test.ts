import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipAddressBytes, normaliseServerName } from '../../../src/tls/host-name.js';

test('normaliseServerName lower-cases, drops the trailing dot and canonicalises IPv6', () => {
  const cases: Array<[string, string | undefined]> = [
    ['API.Example.COM', 'api.example.com'],
    ['example.com.', 'example.com'],
    ['_srv.example.com', '_srv.example.com'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['localhost', 'localhost'],
    ['127.0.0.1', '127.0.0.1'],
    ['[::1]', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:1.2.3.4', '::ffff:102:304'],
    ['', undefined],
    ['.', undefined],
    ['a..b', undefined],
    ['-a.b', undefined],
    ['a-.b', undefined],
    ['*.example.com', undefined],
    ['exa mple.com', undefined],
    ['é.example', undefined],
    [`${'a'.repeat(64)}.com`, undefined],
    [`${'a.'.repeat(127)}a`, undefined],
    ['[::1', undefined],
    ['1::2::3', undefined],
    ['example.com:443', undefined],
  ];
  for (const [input, expected] of cases) assert.equal(normaliseServerName(input), expected, JSON.stringify(input));
});

test('ipAddressBytes gives network-order bytes for IPv4 and IPv6', () => {
  const hex = (ip: string) => Buffer.from(ipAddressBytes(ip), 'binary').toString('hex');
  assert.equal(hex('127.0.0.1'), '7f000001');
  assert.equal(hex('::1'), '00000000000000000000000000000001');
  assert.equal(hex('::'), '00000000000000000000000000000000');
  assert.equal(hex('2001:db8::1'), '20010db8000000000000000000000001');
  assert.equal(hex('fe80::'), 'fe800000000000000000000000000000');
  assert.equal(hex('::ffff:102:304'), '00000000000000000000ffff01020304');
  assert.equal(hex('1:2:3:4:5:6:7:8'), '00010002000300040005000600070008');
});
