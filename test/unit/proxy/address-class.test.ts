import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalHost, canonicalIp, classifyAddress } from '../../../src/proxy/address-class.js';

const CASES: Array<[string, string]> = [
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['172.32.0.1', 'public'],
  ['100.128.0.1', 'public'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.1.1', 'link-local'],
  ['169.254.169.254', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['100.64.0.1', 'cgnat'],
  ['100.127.255.255', 'cgnat'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['224.0.0.1', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['[::1]', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['fc00::1', 'unique-local'],
  ['fd12:3456::1', 'unique-local'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['fec0::1', 'private'],
  ['ff02::1', 'multicast'],
  ['fd00:ec2::254', 'metadata'],
  ['2001:db8::1', 'reserved'],
  ['2606:4700::1111', 'public'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.1.2.3', 'private'],
  ['::ffff:a9fe:a9fe', 'metadata'],
  ['::ffff:8.8.8.8', 'public'],
  ['::7f00:1', 'loopback'],
  ['::127.0.0.1', 'loopback'],
  ['64:ff9b::a00:1', 'private'],
  ['2002:c0a8:0101::1', 'private'],
  ['2002:0808:0808::1', 'public'],
  ['not-an-ip', 'invalid'],
  ['999.1.1.1', 'invalid'],
];

test('classifyAddress covers every internal range, in IPv4, IPv6 and IPv4-mapped forms', () => {
  for (const [ip, expected] of CASES) assert.equal(classifyAddress(ip), expected, ip);
});

test('canonicalIp gives one spelling per address', () => {
  assert.equal(canonicalIp('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(canonicalIp('::ffff:7f00:1'), '127.0.0.1');
  assert.equal(canonicalIp('[::1]'), canonicalIp('0:0:0:0:0:0:0:1'));
  assert.equal(canonicalIp('::'), '0:0:0:0:0:0:0:0');
  assert.equal(canonicalIp('10.0.0.1'), '10.0.0.1');
});

test('canonicalHost reads every numeric IPv4 spelling a resolver accepts as the dotted quad', () => {
  for (const spelling of [
    '2130706433',
    '0x7f000001',
    '0X7F000001',
    '127.1',
    '127.0.1',
    '017700000001',
    '0177.0.0.1',
    '0x7f.1',
    '127.000.000.001',
    '127.0.0.1.',
  ]) {
    assert.equal(canonicalHost(spelling), '127.0.0.1', spelling);
  }
  assert.equal(canonicalHost('0'), '0.0.0.0');
  assert.equal(canonicalHost('0x'), '0.0.0.0');
  assert.equal(canonicalHost('167772161'), '10.0.0.1');
  assert.equal(canonicalHost('[::ffff:127.0.0.1]'), '127.0.0.1');
  assert.equal(canonicalHost('::ffff:0.0.0.0'), '0.0.0.0');
  assert.equal(canonicalHost('[0:0:0:0:0:0:0:1]'), '::1');
  assert.equal(canonicalHost('[::]'), '::');
  assert.equal(canonicalHost('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
});

test('canonicalHost leaves names alone (lowercased) and refuses numeric hosts that are no address', () => {
  assert.equal(canonicalHost('API.Example.test'), 'api.example.test');
  assert.equal(canonicalHost('cafe.face'), 'cafe.face');
  assert.equal(canonicalHost('1e3'), '1e3');
  assert.equal(canonicalHost('10.0.0.1'), '10.0.0.1');
  for (const bad of ['1.2.3.4.5', '4294967296', 'foo.1', '256.1.1.1', '::g']) assert.equal(canonicalHost(bad), undefined, bad);
});
