import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileNetworkPolicy } from '../../../src/rules/network-policy.js';

function decide(allow_out: string[], deny_out: string[], host: string): string {
  const d = compileNetworkPolicy({ allow_out, deny_out }).decide(host);
  return d.allowed ? 'allowed' : d.code!;
}

test('no rules: everything allowed', () => {
  assert.equal(decide([], [], 'example.com'), 'allowed');
  assert.equal(decide([], [], '203.0.113.9'), 'allowed');
});

test('allow_out with deny-all: only the listed destinations (Superserve strict allowlist)', () => {
  const allow = ['api.openai.com', '*.github.com', '140.82.112.0/20'];
  assert.equal(decide(allow, ['0.0.0.0/0'], 'api.openai.com'), 'allowed');
  assert.equal(decide(allow, ['0.0.0.0/0'], 'API.OPENAI.COM'), 'allowed');
  assert.equal(decide(allow, ['0.0.0.0/0'], 'codeload.github.com'), 'allowed');
  assert.equal(decide(allow, ['0.0.0.0/0'], 'a.b.github.com'), 'allowed');
  assert.equal(decide(allow, ['0.0.0.0/0'], 'github.com'), 'host_not_allowed');
  assert.equal(decide(allow, ['0.0.0.0/0'], '140.82.113.4'), 'allowed');
  assert.equal(decide(allow, ['0.0.0.0/0'], '140.82.128.1'), 'host_not_allowed');
  assert.equal(decide(allow, ['0.0.0.0/0'], 'evil.com'), 'host_not_allowed');
});

test('a non-empty allow_out alone is an allowlist', () => {
  assert.equal(decide(['api.openai.com'], [], 'api.openai.com'), 'allowed');
  assert.equal(decide(['api.openai.com'], [], 'example.com'), 'host_not_allowed');
});

test('deny_out: CIDRs match IP literals, /0 matches every host, allow wins over deny', () => {
  assert.equal(decide([], ['203.0.113.0/24'], '203.0.113.7'), 'host_denied');
  assert.equal(decide([], ['203.0.113.0/24'], '198.51.100.1'), 'allowed');
  assert.equal(decide([], ['203.0.113.0/24'], 'example.com'), 'allowed');
  assert.equal(decide([], ['203.0.113.7'], '203.0.113.7'), 'host_denied');
  assert.equal(decide([], ['203.0.113.0/24'], '::ffff:203.0.113.7'), 'host_denied');
  assert.equal(decide([], ['2001:db8::/32'], '2001:db8::1'), 'host_denied');
  assert.equal(decide([], ['0.0.0.0/0'], 'example.com'), 'host_denied');
  assert.equal(decide(['203.0.113.7'], ['203.0.113.0/24'], '203.0.113.7'), 'allowed');
  assert.equal(decide([], ['evil.example.com'], 'evil.example.com'), 'host_denied');
});

test('decisions explain themselves', () => {
  const policy = compileNetworkPolicy({ allow_out: ['api.openai.com'], deny_out: ['10.0.0.0/8'] });
  assert.equal(policy.decide('api.openai.com').explain(), 'network.allow_out api.openai.com');
  assert.equal(policy.decide('x.com').explain(), 'network.allow_out (api.openai.com) does not include x.com');
  const deny = compileNetworkPolicy({ allow_out: [], deny_out: ['10.0.0.0/8'] });
  assert.equal(deny.decide('10.1.2.3').explain(), 'network.deny_out 10.0.0.0/8 covers 10.1.2.3');
  assert.equal(deny.decide('example.com').explain(), 'no network rule applies');
});

test('IP entries match every spelling of the address (numeric forms, IPv4-mapped IPv6)', () => {
  for (const host of ['2130706433', '0x7f000001', '127.1', '017700000001', '::ffff:127.0.0.1', '[::ffff:7f00:1]']) {
    assert.equal(decide([], ['127.0.0.0/8'], host), 'host_denied', host);
    assert.equal(decide(['10.0.0.1'], [], host), 'host_not_allowed', host);
  }
  assert.equal(decide(['10.0.0.1'], [], '167772161'), 'allowed');
  assert.equal(decide(['::ffff:10.0.0.0/104'], [], '10.1.2.3'), 'allowed');
  assert.equal(decide([], ['2130706433'], '127.0.0.1'), 'host_denied');
});
