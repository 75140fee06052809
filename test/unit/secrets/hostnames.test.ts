import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNetworkEntry, isSecretHostPattern, overbroadWildcardSuffix, patternCovers, patternsOverlap } from '../../../src/secrets/hostnames.js';

test('secret host patterns', () => {
  for (const ok of ['api.example.com', '*.example.com', 'API.Example.COM', 'a-b.c1.io', 'x.y']) assert.ok(isSecretHostPattern(ok), ok);
  for (const bad of [
    'localhost',
    '*.com',
    'example.com.',
    '.example.com',
    'a_b.example.com',
    'api.example.com:443',
    '*',
    'a.*.com',
    `${'a'.repeat(250)}.com`,
  ]) {
    assert.ok(!isSecretHostPattern(bad), bad);
  }
});

test('wildcards on public suffixes, ICANN and private sections', () => {
  assert.equal(overbroadWildcardSuffix('*.co.uk'), 'co.uk');
  assert.equal(overbroadWildcardSuffix('*.CO.UK'), 'co.uk');
  assert.equal(overbroadWildcardSuffix('*.github.io'), 'github.io');
  assert.equal(overbroadWildcardSuffix('*.s3.amazonaws.com'), 's3.amazonaws.com');
  assert.equal(overbroadWildcardSuffix('*.example.co.uk'), undefined);
  assert.equal(overbroadWildcardSuffix('*.corp.internal'), undefined);
  assert.equal(overbroadWildcardSuffix('co.uk'), undefined, 'only wildcards are checked');
});

test('coverage: exact by itself or a one-label wildcard; wildcard only by itself', () => {
  assert.ok(patternCovers('api.example.com', 'API.example.com'));
  assert.ok(patternCovers('*.example.com', 'api.example.com'));
  assert.ok(patternCovers('*.Example.com', '*.example.COM'));
  assert.ok(!patternCovers('*.example.com', 'a.b.example.com'));
  assert.ok(!patternCovers('*.example.com', 'example.com'));
  assert.ok(!patternCovers('*.example.com', '*.a.example.com'));
  assert.ok(!patternCovers('*.example.com', 'badexample.com'));
  assert.ok(!patternCovers('api.example.com', '*.example.com'));
});

test('overlap under single-label wildcards', () => {
  assert.ok(patternsOverlap('a.example.com', 'A.EXAMPLE.com'));
  assert.ok(patternsOverlap('*.example.com', 'a.example.com'));
  assert.ok(patternsOverlap('a.example.com', '*.example.com'));
  assert.ok(!patternsOverlap('a.b.example.com', '*.example.com'));
  assert.ok(!patternsOverlap('*.a.example.com', '*.example.com'));
  assert.ok(!patternsOverlap('a.example.com', 'b.example.com'));
  assert.ok(!patternsOverlap('example.com', '*.example.com'));
});

test('network entries: IPs, CIDRs, hosts and wildcards', () => {
  for (const ok of ['1.2.3.4', '10.0.0.0/8', '0.0.0.0/0', '::1', '2001:db8::/32', 'fe80::1', 'api.example.com', '*.example.com', 'internal-svc']) {
    assert.ok(isNetworkEntry(ok), ok);
  }
  for (const bad of [
    '',
    ' api.example.com',
    'http://x.com',
    'x.com:443',
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/',
    '10.0.0.0/x',
    '10.0.0.999',
    '1.2.3',
    '*',
    'a b',
  ]) {
    assert.ok(!isNetworkEntry(bad), bad);
  }
});
