import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROVIDERS, findProvider, providerForEnvKey, toWire } from '../../../src/secrets/providers.js';
import { ANTHROPIC_WIRE } from '../../helpers/anthropic-wire.js';

/** docs/contract.md#providers, row by row: name, display, auth_type, auth_config, hosts, prefix, len, alphabet. */
const FACTS: readonly [string, string, string, Record<string, unknown>, string[], string, number, 'alnum' | 'b64url'][] = [
  ['anthropic', 'Anthropic', 'api-key', { header: 'x-api-key' }, ['api.anthropic.com'], 'sk-ant-api03-', 48, 'alnum'],
  ['asana', 'Asana', 'bearer', {}, ['app.asana.com'], '', 32, 'alnum'],
  ['cloudflare', 'Cloudflare', 'bearer', {}, ['api.cloudflare.com'], '', 40, 'alnum'],
  ['exa', 'Exa', 'api-key', { header: 'x-api-key' }, ['api.exa.ai'], '', 32, 'alnum'],
  ['firecrawl', 'Firecrawl', 'bearer', {}, ['api.firecrawl.dev'], 'fc-', 36, 'alnum'],
  ['gemini', 'Google Gemini', 'api-key', { header: 'x-goog-api-key' }, ['generativelanguage.googleapis.com'], 'AIza', 35, 'b64url'],
  [
    'github',
    'GitHub',
    'per_host',
    {
      per_host: [
        { hosts: ['api.github.com'], type: 'bearer' },
        { hosts: ['github.com'], type: 'basic', username: 'x-access-token' },
      ],
    },
    ['api.github.com', 'github.com'],
    'ghp_',
    36,
    'alnum',
  ],
  ['gitlab', 'GitLab', 'api-key', { header: 'PRIVATE-TOKEN' }, ['gitlab.com'], 'glpat-', 20, 'alnum'],
  ['linear', 'Linear', 'api-key', { header: 'Authorization' }, ['api.linear.app'], 'lin_api_', 32, 'alnum'],
  ['notion', 'Notion', 'bearer', {}, ['api.notion.com'], 'ntn_', 43, 'alnum'],
  ['openai', 'OpenAI', 'bearer', {}, ['api.openai.com'], 'sk-proj-', 64, 'alnum'],
  ['openrouter', 'OpenRouter', 'bearer', {}, ['openrouter.ai'], 'sk-or-v1-', 64, 'alnum'],
  ['perplexity', 'Perplexity', 'bearer', {}, ['api.perplexity.ai'], 'pplx-', 48, 'alnum'],
  ['resend', 'Resend', 'bearer', {}, ['api.resend.com'], 're_', 24, 'alnum'],
  ['sentry', 'Sentry', 'bearer', {}, ['sentry.io'], 'sntrys_', 32, 'alnum'],
  ['slack', 'Slack', 'bearer', {}, ['slack.com'], 'xoxb-', 43, 'b64url'],
  ['stripe', 'Stripe', 'bearer', {}, ['api.stripe.com'], 'sk_test_', 24, 'alnum'],
  ['vercel', 'Vercel', 'bearer', {}, ['api.vercel.com'], 'vcp_', 24, 'alnum'],
  ['xai', 'xAI', 'bearer', {}, ['api.x.ai'], 'xai-', 80, 'alnum'],
];

test('the catalogue is the facts table, alphabetical', () => {
  assert.equal(PROVIDERS.length, 19);
  assert.deepEqual(
    PROVIDERS.map((p) => p.name),
    FACTS.map((row) => row[0]),
  );
  assert.deepEqual(
    PROVIDERS.map((p) => p.name),
    [...PROVIDERS.map((p) => p.name)].sort(),
  );
});

for (const [name, display, authType, authConfig, hosts, prefix, length, alphabet] of FACTS) {
  test(`provider ${name} matches the facts`, () => {
    const p = findProvider(name);
    assert.ok(p);
    assert.equal(p.display, display);
    assert.equal(p.auth_type, authType);
    assert.deepEqual(p.auth_config, authConfig);
    assert.deepEqual(p.hosts, hosts);
    assert.deepEqual(p.standIn, { prefix, length, alphabet });
    assert.equal(p.token_shape, `${prefix}...`);
    assert.ok(p.envKeys.length >= 1);
    for (const key of p.envKeys) assert.equal(providerForEnvKey(key), p);
  });
}

test('toWire is the GET /providers item and a detached copy', () => {
  const anthropic = findProvider('anthropic');
  assert.ok(anthropic);
  assert.deepEqual(toWire(anthropic), ANTHROPIC_WIRE);
  const github = findProvider('github');
  assert.ok(github);
  const wire = toWire(github);
  (wire.auth_config.per_host as { hosts: string[] }[])[0]?.hosts.push('evil.example.com');
  wire.hosts.push('evil.example.com');
  assert.deepEqual(github.hosts, ['api.github.com', 'github.com']);
  assert.deepEqual((github.auth_config.per_host as { hosts: string[] }[])[0]?.hosts, ['api.github.com']);
  assert.equal(toWire(findProvider('exa')!).token_shape, '...');
});

test('the catalogue is frozen', () => {
  assert.ok(Object.isFrozen(PROVIDERS));
  const github = findProvider('github')!;
  assert.throws(() => (github.hosts as string[]).push('x'));
  assert.throws(() => {
    (github.auth_config as Record<string, unknown>).header = 'x';
  });
});

test('conventional env keys map to providers', () => {
  const expected: Record<string, string> = {
    ANTHROPIC_API_KEY: 'anthropic',
    OPENAI_API_KEY: 'openai',
    GITHUB_TOKEN: 'github',
    GH_TOKEN: 'github',
    GEMINI_API_KEY: 'gemini',
    GOOGLE_API_KEY: 'gemini',
    STRIPE_SECRET_KEY: 'stripe',
    SLACK_BOT_TOKEN: 'slack',
    XAI_API_KEY: 'xai',
    OPENROUTER_API_KEY: 'openrouter',
  };
  for (const [key, name] of Object.entries(expected)) assert.equal(providerForEnvKey(key)?.name, name, key);
  assert.equal(providerForEnvKey('DATABASE_URL'), undefined);
  assert.equal(providerForEnvKey('openai_api_key'), undefined);
  const all = PROVIDERS.flatMap((p) => p.envKeys);
  assert.equal(new Set(all).size, all.length, 'no env key names two providers');
});

test('findProvider is exact', () => {
  assert.equal(findProvider('OpenAI'), undefined);
  assert.equal(findProvider('toString'), undefined);
  assert.equal(findProvider(''), undefined);
});
