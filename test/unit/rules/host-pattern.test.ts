import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHostPattern, compileHostPatternList } from '../../../src/rules/host-pattern.js';

test('exact pattern matches only that host, case-insensitively', () => {
  const p = compileHostPattern('api.openai.com');
  assert.equal(p.matches('api.openai.com'), true);
  assert.equal(p.matches('API.OpenAI.com'), true);
  assert.equal(p.matches('api.openai.com.'), true);
  assert.equal(p.matches('openai.com'), false);
  assert.equal(p.matches('x.api.openai.com'), false);
  assert.equal(p.matches('api.openai.com.evil.com'), false);
  assert.equal(p.explain(), 'api.openai.com');
});

test('*.example.com matches exactly one more label', () => {
  const p = compileHostPattern('*.Example.com');
  assert.equal(p.matches('a.example.com'), true);
  assert.equal(p.matches('A.EXAMPLE.COM'), true);
  assert.equal(p.matches('example.com'), false);
  assert.equal(p.matches('a.b.example.com'), false);
  assert.equal(p.matches('.example.com'), false);
  assert.equal(p.matches('aexample.com'), false);
  assert.equal(p.matches('a.example.com.evil.org'), false);
  assert.equal(p.explain(), '*.example.com');
});

test('any-depth wildcard (network rules) matches deeper names but not the apex', () => {
  const p = compileHostPattern('*.example.com', 'any');
  assert.equal(p.matches('a.example.com'), true);
  assert.equal(p.matches('a.b.example.com'), true);
  assert.equal(p.matches('example.com'), false);
  assert.equal(p.matches('a..example.com'), false);
});

test('a list matches when any pattern does and explains itself', () => {
  const list = compileHostPatternList(['api.github.com', '*.githubusercontent.com']);
  assert.equal(list.matches('raw.githubusercontent.com'), true);
  assert.equal(list.matches('github.com'), false);
  assert.equal(list.patterns[0]?.source, 'api.github.com');
  assert.equal(list.explain(), 'api.github.com, *.githubusercontent.com');
});
