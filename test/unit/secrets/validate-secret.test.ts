import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROVIDERS } from '../../../src/secrets/providers.js';
import { parseCreateSecret, parseRotateSecret } from '../../../src/secrets/validate-secret.js';
import { assertBadRequest } from '../../helpers/api-error.js';

const ALL_PROVIDERS =
  'anthropic, asana, cloudflare, exa, firecrawl, gemini, github, gitlab, linear, notion, openai, openrouter, perplexity, resend, sentry, slack, stripe, vercel, xai';

function rejects(body: unknown, message: string, parse: (body: unknown) => unknown = parseCreateSecret): void {
  assertBadRequest(parse, body, message);
}

/** A valid custom body with `auth` and `hosts` replaced. */
function custom(auth: unknown, hosts: unknown = ['api.example.com']): Record<string, unknown> {
  return { name: 'svc', value: 'real-value', auth, hosts };
}

// --- facts §1-2: every quoted message, exactly -------------------------------------------------

test('unknown provider lists the supported ones', () => {
  rejects({ name: 'a', value: 'v', provider: 'nope' }, `provider "nope" is not supported (got: ${ALL_PROVIDERS})`);
});

test('provider with auth or hosts', () => {
  const message = 'provider is mutually exclusive with auth/hosts; pick one';
  rejects({ name: 'a', value: 'v', provider: 'openai', hosts: ['api.openai.com'] }, message);
  rejects({ name: 'a', value: 'v', provider: 'openai', auth: { type: 'bearer' } }, message);
});

test('neither provider nor auth + hosts', () => {
  rejects({ name: 'a', value: 'v' }, `must specify either provider (one of: ${ALL_PROVIDERS}) or auth + hosts`);
  rejects({ name: 'a', value: 'v', provider: '  ', hosts: [] }, `must specify either provider (one of: ${ALL_PROVIDERS}) or auth + hosts`);
});

test('name is required (after trimming)', () => {
  rejects({ value: 'v', provider: 'openai' }, 'name is required');
  rejects({ name: '   ', value: 'v', provider: 'openai' }, 'name is required');
});

test('name exceeds 128 characters', () => {
  rejects({ name: 'a'.repeat(129), value: 'v', provider: 'openai' }, 'name exceeds 128 characters');
  assert.equal(parseCreateSecret({ name: 'a'.repeat(128), value: 'v', provider: 'openai' }).name.length, 128);
});

test('name pattern', () => {
  const message = "name must start with a letter or underscore and contain only letters, digits, '_', '-'";
  for (const name of ['1abc', '-abc', 'a b', 'a.b', 'ä']) rejects({ name, value: 'v', provider: 'openai' }, message);
});

test('value is required', () => {
  rejects({ name: 'a', provider: 'openai' }, 'value is required');
  rejects({ name: 'a', value: '', provider: 'openai' }, 'value is required');
});

test('value exceeds 8192 bytes (UTF-8)', () => {
  rejects({ name: 'a', value: 'x'.repeat(8193), provider: 'openai' }, 'value exceeds 8192 bytes');
  rejects({ name: 'a', value: 'é'.repeat(4097), provider: 'openai' }, 'value exceeds 8192 bytes');
  assert.equal(parseCreateSecret({ name: 'a', value: 'é'.repeat(4096), provider: 'openai' }).value.length, 4096);
});

test('hosts is required (at least one upstream)', () => {
  rejects(custom({ type: 'bearer' }, []), 'hosts is required (at least one upstream)');
  rejects(custom({ type: 'bearer' }, null), 'hosts is required (at least one upstream)');
});

test('hosts has N entries, max is 16', () => {
  const hosts = Array.from({ length: 17 }, (_, i) => `h${i}.example.com`);
  rejects(custom({ type: 'bearer' }, hosts), 'hosts has 17 entries, max is 16');
});

test('hosts[i] is not a valid hostname', () => {
  for (const bad of [
    'https://api.example.com',
    'api.example.com:443',
    'api.example.com/v1',
    'localhost',
    '*.',
    '**.example.com',
    'a..b',
    '-a.example.com',
    '',
  ]) {
    rejects(custom({ type: 'bearer' }, ['ok.example.com', bad]), `hosts[1]: ${JSON.stringify(bad.trim())} is not a valid hostname`);
  }
});

test('wildcard on a public suffix', () => {
  rejects(custom({ type: 'bearer' }, ['*.co.uk']), 'wildcard "*.co.uk" is too broad — "co.uk" is a public suffix; narrow to a specific subdomain');
  rejects(
    custom({ type: 'bearer' }, ['api.example.com', '*.com.au']),
    'wildcard "*.com.au" is too broad — "com.au" is a public suffix; narrow to a specific subdomain',
  );
  // `*.com` already fails the two-label host rule.
  rejects(custom({ type: 'bearer' }, ['*.com']), 'hosts[0]: "*.com" is not a valid hostname');
  // The PSL's private section counts, as with Go's x/net/publicsuffix.
  rejects(custom({ type: 'bearer' }, ['*.GitHub.io']), 'wildcard "*.GitHub.io" is too broad — "github.io" is a public suffix; narrow to a specific subdomain');
  assert.deepEqual(parseCreateSecret(custom({ type: 'bearer' }, ['*.example.co.uk'])).hosts, ['*.example.co.uk']);
});

test('auth is required when provider is not set', () => {
  rejects({ name: 'a', value: 'v', hosts: ['api.example.com'] }, 'auth is required when provider is not set');
});

test('auth.type or auth.per_host is required', () => {
  rejects(custom({}), 'auth.type or auth.per_host is required');
  rejects(custom({ type: '', per_host: [] }), 'auth.type or auth.per_host is required');
});

test('auth.per_host is mutually exclusive with auth.type and the type-specific fields', () => {
  const rules = [{ hosts: ['api.example.com'], type: 'bearer' }];
  for (const extra of [{ type: 'bearer' }, { header: 'X-Key' }, { prefix: 'p' }, { username: 'u' }, { headers: { A: '{{ value }}' } }]) {
    rejects(custom({ per_host: rules, ...extra }), 'auth.per_host is mutually exclusive with auth.type and the type-specific fields');
  }
});

test('auth.header is required for type=api-key', () => {
  rejects(custom({ type: 'api-key' }), 'auth.header is required for type=api-key');
  rejects(custom({ type: 'api-key', header: '' }), 'auth.header is required for type=api-key');
});

test('custom template must reference {{ value }}', () => {
  rejects(
    custom({ type: 'custom', headers: { 'X-Auth': 'Token {{value}}' } }),
    'auth.headers[X-Auth]: template must reference {{ value }} so the credential is actually injected',
  );
});

test('unknown auth type', () => {
  rejects(custom({ type: 'oauth' }), 'auth.type "oauth" is not supported (got: bearer, basic, api-key, custom)');
});

test('per_host host not reachable from the top-level hosts', () => {
  rejects(
    custom(
      {
        per_host: [
          { hosts: ['api.example.com'], type: 'bearer' },
          { hosts: ['other.example.com'], type: 'bearer' },
        ],
      },
      ['api.example.com'],
    ),
    'auth.per_host[1].hosts: "other.example.com" is not reachable from the top-level hosts allowlist',
  );
  // *.x covers exactly one more label, and a wildcard rule host only by the same wildcard.
  rejects(
    custom({ per_host: [{ hosts: ['a.b.example.com'], type: 'bearer' }] }, ['*.example.com']),
    'auth.per_host[0].hosts: "a.b.example.com" is not reachable from the top-level hosts allowlist',
  );
  rejects(
    custom({ per_host: [{ hosts: ['*.a.example.com'], type: 'bearer' }] }, ['*.example.com']),
    'auth.per_host[0].hosts: "*.a.example.com" is not reachable from the top-level hosts allowlist',
  );
  rejects(
    custom({ per_host: [{ hosts: ['example.com'], type: 'bearer' }] }, ['*.example.com']),
    'auth.per_host[0].hosts: "example.com" is not reachable from the top-level hosts allowlist',
  );
});

// --- Superserve's other messages (from its Go handler) -----------------------------------------

test('per_host rules may not overlap', () => {
  rejects(
    custom(
      {
        per_host: [
          { hosts: ['*.example.com'], type: 'bearer' },
          { hosts: ['API.example.com'], type: 'basic' },
        ],
      },
      ['*.example.com'],
    ),
    'auth.per_host[1].hosts: "API.example.com" overlaps with auth.per_host[0].hosts "*.example.com"',
  );
  rejects(
    custom({ per_host: [{ hosts: ['api.example.com', 'api.example.com'], type: 'bearer' }] }, ['api.example.com']),
    'auth.per_host[0].hosts: "api.example.com" overlaps with auth.per_host[0].hosts "api.example.com"',
  );
});

test('per_host rule count and rule hosts', () => {
  const rules = Array.from({ length: 17 }, (_, i) => ({ hosts: [`h${i}.example.com`], type: 'bearer' }));
  rejects(custom({ per_host: rules }, ['*.example.com']), 'auth.per_host has 17 rules, max is 16');
  rejects(custom({ per_host: [{ type: 'bearer' }] }), 'auth.per_host[0]: hosts is required (at least one upstream)');
  rejects(custom({ per_host: [{ hosts: ['bad host'], type: 'bearer' }] }), 'auth.per_host[0]: hosts[0]: "bad host" is not a valid hostname');
  rejects(custom({ per_host: [{ hosts: ['api.example.com'] }] }), 'auth.per_host[0].type is required');
  rejects(custom({ per_host: [{ hosts: ['api.example.com'], type: 'api-key' }] }), 'auth.per_host[0].header is required for type=api-key');
});

test('bearer takes no extra fields', () => {
  for (const extra of [{ header: 'X' }, { prefix: 'p' }, { username: 'u' }, { headers: { A: '{{ value }}' } }]) {
    rejects(custom({ type: 'bearer', ...extra }), 'auth.type="bearer" does not accept header/prefix/username/headers');
  }
});

test('basic rules', () => {
  rejects(custom({ type: 'basic', header: 'X' }), 'auth.type="basic" does not accept header/prefix/headers');
  for (const username of ['a:b', 'a\rb', 'a\nb']) rejects(custom({ type: 'basic', username }), "auth.username may not contain ':' or CR/LF");
});

test('api-key rules', () => {
  rejects(custom({ type: 'api-key', header: 'X Key' }), 'auth.header "X Key" is not a valid header name');
  rejects(custom({ type: 'api-key', header: 'X-Key:' }), 'auth.header "X-Key:" is not a valid header name');
  rejects(custom({ type: 'api-key', header: 'X-Key', headers: { A: '{{ value }}' } }), 'auth.headers is not allowed for type=api-key');
  rejects(custom({ type: 'api-key', header: 'X-Key', username: 'u' }), 'auth.username is not allowed for type=api-key');
  rejects(custom({ type: 'api-key', header: 'X-Key', prefix: 'a\r\nb' }), 'auth.prefix may not contain CR, LF or NUL');
});

test('custom rules', () => {
  rejects(custom({ type: 'custom' }), 'auth.headers is required for type=custom');
  rejects(custom({ type: 'custom', headers: {} }), 'auth.headers is required for type=custom');
  const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`X-H${i}`, '{{ value }}']));
  rejects(custom({ type: 'custom', headers: nine }), 'auth.headers has 9 entries, max is 8');
  rejects(custom({ type: 'custom', headers: { 'Bad Name': '{{ value }}' } }), 'auth.headers: "Bad Name" is not a valid header name');
  rejects(custom({ type: 'custom', headers: { 'X-A': '{{ value }}\r\nX-B: 1' } }), 'auth.headers[X-A]: template may not contain CR, LF or NUL');
  rejects(
    custom({ type: 'custom', headers: { 'X-A': '{{ value }}' }, header: 'X' }),
    'auth.type=custom does not accept header/prefix/username; use headers map',
  );
});

test('the auth shape is checked before the hosts, as in Superserve', () => {
  rejects(custom({ type: 'oauth' }, []), 'auth.type "oauth" is not supported (got: bearer, basic, api-key, custom)');
});

// --- structure and types ------------------------------------------------------------------------

test('unknown fields are refused and named', () => {
  rejects({ name: 'a', value: 'v', provider: 'openai', foo: 1 }, 'unknown field "foo"');
  rejects(custom({ type: 'bearer', scheme: 'x' }), 'unknown field "auth.scheme"');
  rejects(custom({ per_host: [{ hosts: ['api.example.com'], type: 'bearer', extra: true }] }), 'unknown field "auth.per_host[0].extra"');
  rejects({ value: 'v', extra: 1 }, 'unknown field "extra"', parseRotateSecret);
  rejects({ value: 'v', name: 'x' }, 'unknown field "name"', parseRotateSecret);
});

test('wrong types are refused without echoing values', () => {
  rejects(null, 'request body must be a JSON object');
  rejects([], 'request body must be a JSON object');
  rejects('x', 'request body must be a JSON object');
  rejects({ name: 5, value: 'v', provider: 'openai' }, 'name must be a string');
  rejects({ name: 'a', value: 12345, provider: 'openai' }, 'value must be a string');
  rejects({ name: 'a', value: 'v', provider: ['openai'] }, 'provider must be a string');
  rejects(custom({ type: 'bearer' }, 'api.example.com'), 'hosts must be an array');
  rejects(custom({ type: 'bearer' }, ['api.example.com', 7]), 'hosts[1] must be a string');
  rejects(custom('bearer'), 'auth must be an object');
  rejects(custom({ type: 1 }), 'auth.type must be a string');
  rejects(custom({ type: 'custom', headers: ['{{ value }}'] }), 'auth.headers must be an object');
  rejects(custom({ type: 'custom', headers: { 'X-A': 1 } }), 'auth.headers["X-A"] must be a string');
  rejects(custom({ per_host: {} }), 'auth.per_host must be an array');
  rejects(custom({ per_host: ['x'] }), 'auth.per_host[0] must be an object');
  rejects(custom({ per_host: [{ hosts: 'api.example.com', type: 'bearer' }] }), 'auth.per_host[0].hosts must be an array');
  rejects({ value: 5 }, 'value must be a string', parseRotateSecret);
  rejects({}, 'value is required', parseRotateSecret);
  rejects({ value: 'x'.repeat(8193) }, 'value exceeds 8192 bytes', parseRotateSecret);
});

// --- happy paths --------------------------------------------------------------------------------

for (const provider of PROVIDERS) {
  test(`create with provider ${provider.name}`, () => {
    const def = parseCreateSecret({ name: ` ${provider.name}-prod `, value: 'real', provider: ` ${provider.name}` });
    assert.deepEqual(def, {
      name: `${provider.name}-prod`,
      value: 'real',
      provider: provider.name,
      authType: provider.auth_type,
      authConfig: provider.auth_config,
      hosts: provider.hosts,
    });
    assert.ok(!Object.isFrozen(def.authConfig) && def.hosts !== provider.hosts, 'a detached copy');
  });
}

test('provider with empty hosts and null auth is still a provider secret', () => {
  assert.equal(parseCreateSecret({ name: 'a', value: 'v', provider: 'openai', hosts: [], auth: null }).provider, 'openai');
});

test('auth_config per auth type', () => {
  const cases: [unknown, string, Record<string, unknown>][] = [
    [{ type: 'bearer' }, 'bearer', {}],
    [{ type: 'bearer', header: '', prefix: '' }, 'bearer', {}],
    [{ type: 'basic' }, 'basic', {}],
    [{ type: 'basic', username: 'x-access-token' }, 'basic', { username: 'x-access-token' }],
    [{ type: 'api-key', header: 'X-Api-Key' }, 'api-key', { header: 'X-Api-Key' }],
    [{ type: 'api-key', header: 'Authorization', prefix: '' }, 'api-key', { header: 'Authorization' }],
    [{ type: 'api-key', header: 'Authorization', prefix: 'Token ' }, 'api-key', { header: 'Authorization', prefix: 'Token ' }],
    [
      { type: 'custom', headers: { 'X-Auth': 'Key {{ value }}', 'X-Other': '{{ value }}:sig' } },
      'custom',
      { headers: { 'X-Auth': 'Key {{ value }}', 'X-Other': '{{ value }}:sig' } },
    ],
  ];
  for (const [auth, authType, authConfig] of cases) {
    const def = parseCreateSecret(custom(auth, [' api.example.com ', '*.Example.org']));
    assert.equal(def.authType, authType);
    assert.deepEqual(def.authConfig, authConfig);
    assert.equal(def.provider, null);
    assert.deepEqual(def.hosts, ['api.example.com', '*.Example.org'], 'trimmed, case kept');
  }
});

test('per_host auth_config, like the github shortcut', () => {
  const def = parseCreateSecret(
    custom(
      {
        per_host: [
          { hosts: [' api.example.com'], type: 'bearer' },
          { hosts: ['git.example.com'], type: 'basic', username: 'x-access-token' },
          { hosts: ['*.svc.example.com'], type: 'api-key', header: 'X-Key', prefix: 'k ' },
          { hosts: ['Hooks.Example.org'], type: 'custom', headers: { 'X-Sig': '{{ value }}' } },
        ],
      },
      ['api.example.com', '*.example.com', '*.svc.example.com', '*.example.org'],
    ),
  );
  assert.equal(def.authType, 'per_host');
  assert.deepEqual(def.authConfig, {
    per_host: [
      { hosts: ['api.example.com'], type: 'bearer' },
      { hosts: ['git.example.com'], type: 'basic', username: 'x-access-token' },
      { hosts: ['*.svc.example.com'], type: 'api-key', header: 'X-Key', prefix: 'k ' },
      { hosts: ['Hooks.Example.org'], type: 'custom', headers: { 'X-Sig': '{{ value }}' } },
    ],
  });
});

test('per_host with a single rule is still per_host', () => {
  const def = parseCreateSecret(custom({ per_host: [{ hosts: ['api.example.com'], type: 'bearer' }] }));
  assert.equal(def.authType, 'per_host');
});

test('rotate', () => {
  assert.deepEqual(parseRotateSecret({ value: 'new' }), { value: 'new' });
});

test("auth.allow_range (credproxy's Range opt-in): stored only when true, on single rules and per_host alike", () => {
  assert.deepEqual(parseCreateSecret(custom({ type: 'bearer', allow_range: true })).authConfig, { allow_range: true });
  assert.deepEqual(parseCreateSecret(custom({ type: 'api-key', header: 'x-key', allow_range: false })).authConfig, { header: 'x-key' });
  const perHost = parseCreateSecret(custom({ per_host: [{ hosts: ['api.example.com'], type: 'bearer' }], allow_range: true }));
  assert.deepEqual(perHost.authConfig, { per_host: [{ hosts: ['api.example.com'], type: 'bearer' }], allow_range: true });
  rejects(custom({ type: 'bearer', allow_range: 'yes' }), 'auth.allow_range must be a boolean');
  rejects(custom({ per_host: [{ hosts: ['api.example.com'], type: 'bearer', allow_range: true }] }), 'unknown field "auth.per_host[0].allow_range"');
});
