import type { AuthRule, AuthType } from '../auth-shapes/index.js';

/**
 * A built-in provider: the auth shape and hosts a `{name, value, provider}` secret gets, and the
 * shape of the stand-in minted for it (so client-side key-format checks accept the stand-in).
 * Values follow Superserve's catalogue (docs/contract.md#providers).
 */
export interface ProviderShortcut {
  readonly name: string;
  readonly display: string;
  readonly auth_type: AuthType;
  readonly auth_config: Readonly<Record<string, unknown>>;
  readonly hosts: readonly string[];
  /** Stand-in prefix + `"..."`; providers without a prefix show `"..."`, as Superserve does. */
  readonly token_shape: string;
  /** Conventional env var names that mean this provider (for agent secrets), e.g. ['ANTHROPIC_API_KEY']. */
  readonly envKeys: readonly string[];
  readonly standIn: { readonly prefix: string; readonly length: number; readonly alphabet: 'alnum' | 'b64url' };
  /**
   * Other shapes the provider's API takes the same key in, on the same hosts (not on the wire:
   * `GET /providers` shows Superserve's one shape). A stand-in arriving in one of them is swapped
   * in that shape and audited under it, e.g. `Authorization: Bearer` from @anthropic-ai/sdk ≥ 1.
   */
  readonly alsoAccepts?: readonly AuthRule[];
}

/** The GET /providers item. */
export interface ProviderWire {
  readonly name: string;
  readonly display: string;
  readonly auth_type: AuthType;
  readonly auth_config: Record<string, unknown>;
  readonly hosts: string[];
  readonly token_shape: string;
}

type ProviderSpec = Omit<ProviderShortcut, 'token_shape'>;

type ProviderAuth = Pick<ProviderSpec, 'auth_type' | 'auth_config' | 'alsoAccepts'>;

const BEARER: ProviderAuth = { auth_type: 'bearer', auth_config: {} };

function apiKey(header: string): ProviderAuth {
  return { auth_type: 'api-key', auth_config: { header } };
}

/** An api-key provider whose API takes the same key as `Authorization: Bearer <key>` too. */
function apiKeyOrBearer(header: string): ProviderAuth {
  return { ...apiKey(header), alsoAccepts: [{ type: 'bearer' }] };
}

function alnum(prefix: string, length: number): ProviderSpec['standIn'] {
  return { prefix, length, alphabet: 'alnum' };
}

function b64url(prefix: string, length: number): ProviderSpec['standIn'] {
  return { prefix, length, alphabet: 'b64url' };
}

// One row of SPECS: name, display name, auth shape, hosts, env var names, stand-in shape; positional, so
// that each provider stays one line of the table.
function spec(
  name: string,
  display: string,
  auth: ProviderAuth,
  hosts: readonly string[],
  envKeys: readonly string[],
  standIn: ProviderSpec['standIn'],
): ProviderSpec {
  return { name, display, ...auth, hosts, envKeys, standIn };
}

// Anthropic (x-api-key; @anthropic-ai/sdk 1.x sends Bearer), Exa and GitLab (PRIVATE-TOKEN) also
// document `Authorization: Bearer <key>` for the same keys.
const SPECS: readonly ProviderSpec[] = [
  spec('anthropic', 'Anthropic', apiKeyOrBearer('x-api-key'), ['api.anthropic.com'], ['ANTHROPIC_API_KEY'], alnum('sk-ant-api03-', 48)),
  // Asana, Cloudflare and Exa keys have no stable prefix; the stand-in is a bare body.
  spec('asana', 'Asana', BEARER, ['app.asana.com'], ['ASANA_ACCESS_TOKEN', 'ASANA_TOKEN'], alnum('', 32)),
  spec('cloudflare', 'Cloudflare', BEARER, ['api.cloudflare.com'], ['CLOUDFLARE_API_TOKEN', 'CF_API_TOKEN'], alnum('', 40)),
  spec('exa', 'Exa', apiKeyOrBearer('x-api-key'), ['api.exa.ai'], ['EXA_API_KEY'], alnum('', 32)),
  spec('firecrawl', 'Firecrawl', BEARER, ['api.firecrawl.dev'], ['FIRECRAWL_API_KEY'], alnum('fc-', 36)),
  spec('gemini', 'Google Gemini', apiKey('x-goog-api-key'), ['generativelanguage.googleapis.com'], ['GEMINI_API_KEY', 'GOOGLE_API_KEY'], b64url('AIza', 35)),
  {
    name: 'github',
    display: 'GitHub',
    // REST takes Bearer; git over HTTPS takes Basic with the fixed user x-access-token.
    auth_type: 'per_host',
    auth_config: {
      per_host: [
        { hosts: ['api.github.com'], type: 'bearer' },
        { hosts: ['github.com'], type: 'basic', username: 'x-access-token' },
      ],
    },
    hosts: ['api.github.com', 'github.com'],
    envKeys: ['GITHUB_TOKEN', 'GH_TOKEN', 'GITHUB_PERSONAL_ACCESS_TOKEN'],
    standIn: alnum('ghp_', 36),
  },
  spec('gitlab', 'GitLab', apiKeyOrBearer('PRIVATE-TOKEN'), ['gitlab.com'], ['GITLAB_TOKEN', 'GITLAB_PERSONAL_ACCESS_TOKEN'], alnum('glpat-', 20)),
  // Linear wants the raw key in Authorization, without a "Bearer " prefix.
  spec('linear', 'Linear', apiKey('Authorization'), ['api.linear.app'], ['LINEAR_API_KEY'], alnum('lin_api_', 32)),
  spec('notion', 'Notion', BEARER, ['api.notion.com'], ['NOTION_API_KEY', 'NOTION_TOKEN'], alnum('ntn_', 43)),
  spec('openai', 'OpenAI', BEARER, ['api.openai.com'], ['OPENAI_API_KEY'], alnum('sk-proj-', 64)),
  spec('openrouter', 'OpenRouter', BEARER, ['openrouter.ai'], ['OPENROUTER_API_KEY'], alnum('sk-or-v1-', 64)),
  spec('perplexity', 'Perplexity', BEARER, ['api.perplexity.ai'], ['PERPLEXITY_API_KEY', 'PPLX_API_KEY'], alnum('pplx-', 48)),
  spec('resend', 'Resend', BEARER, ['api.resend.com'], ['RESEND_API_KEY'], alnum('re_', 24)),
  spec('sentry', 'Sentry', BEARER, ['sentry.io'], ['SENTRY_AUTH_TOKEN'], alnum('sntrys_', 32)),
  spec('slack', 'Slack', BEARER, ['slack.com'], ['SLACK_BOT_TOKEN', 'SLACK_TOKEN'], b64url('xoxb-', 43)),
  // sk_test_, never sk_live_, so secret scanners do not report the stand-in as a live key.
  spec('stripe', 'Stripe', BEARER, ['api.stripe.com'], ['STRIPE_SECRET_KEY', 'STRIPE_API_KEY'], alnum('sk_test_', 24)),
  spec('vercel', 'Vercel', BEARER, ['api.vercel.com'], ['VERCEL_TOKEN'], alnum('vcp_', 24)),
  spec('xai', 'xAI', BEARER, ['api.x.ai'], ['XAI_API_KEY'], alnum('xai-', 80)),
];

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Every provider shortcut, alphabetical by name, deeply frozen. */
export const PROVIDERS: readonly ProviderShortcut[] = deepFreeze(
  [...SPECS]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((spec): ProviderShortcut => ({ ...spec, token_shape: `${spec.standIn.prefix}...` })),
);

const BY_NAME = new Map(PROVIDERS.map((p) => [p.name, p]));
const BY_ENV_KEY = new Map(PROVIDERS.flatMap((p) => p.envKeys.map((key) => [key, p] as const)));

/** The shortcut called `name` (exact, case-sensitive), or undefined. */
export function findProvider(name: string): ProviderShortcut | undefined {
  return BY_NAME.get(name);
}

/** The provider an env var name conventionally holds a key for (exact match), e.g. OPENAI_API_KEY → openai. */
export function providerForEnvKey(envKey: string): ProviderShortcut | undefined {
  return BY_ENV_KEY.get(envKey);
}

/** The provider names joined for messages: sorted, `", "`-separated. */
export function providerNameList(): string {
  return PROVIDERS.map((p) => p.name).join(', ');
}

/** The GET /providers item: a fresh, mutable copy safe to serialise or hand out. */
export function toWire(p: ProviderShortcut): ProviderWire {
  return {
    name: p.name,
    display: p.display,
    auth_type: p.auth_type,
    auth_config: structuredClone(p.auth_config) as Record<string, unknown>,
    hosts: [...p.hosts],
    token_shape: p.token_shape,
  };
}
