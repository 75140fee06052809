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

const BEARER = { auth_type: 'bearer', auth_config: {} } as const;
const ALSO_BEARER: readonly AuthRule[] = [{ type: 'bearer' }];

function apiKey(header: string): Pick<ProviderSpec, 'auth_type' | 'auth_config'> {
  return { auth_type: 'api-key', auth_config: { header } };
}

function alnum(prefix: string, length: number): ProviderSpec['standIn'] {
  return { prefix, length, alphabet: 'alnum' };
}

function b64url(prefix: string, length: number): ProviderSpec['standIn'] {
  return { prefix, length, alphabet: 'b64url' };
}

// Anthropic (x-api-key; @anthropic-ai/sdk 1.x sends Bearer), Exa and GitLab (PRIVATE-TOKEN) also
// document `Authorization: Bearer <key>` for the same keys.
const SPECS: readonly ProviderSpec[] = [
  { name: 'anthropic', display: 'Anthropic', ...apiKey('x-api-key'), hosts: ['api.anthropic.com'], envKeys: ['ANTHROPIC_API_KEY'], standIn: alnum('sk-ant-api03-', 48), alsoAccepts: ALSO_BEARER },
  // Asana, Cloudflare and Exa keys have no stable prefix; the stand-in is a bare body.
  { name: 'asana', display: 'Asana', ...BEARER, hosts: ['app.asana.com'], envKeys: ['ASANA_ACCESS_TOKEN', 'ASANA_TOKEN'], standIn: alnum('', 32) },
  { name: 'cloudflare', display: 'Cloudflare', ...BEARER, hosts: ['api.cloudflare.com'], envKeys: ['CLOUDFLARE_API_TOKEN', 'CF_API_TOKEN'], standIn: alnum('', 40) },
  { name: 'exa', display: 'Exa', ...apiKey('x-api-key'), hosts: ['api.exa.ai'], envKeys: ['EXA_API_KEY'], standIn: alnum('', 32), alsoAccepts: ALSO_BEARER },
  { name: 'firecrawl', display: 'Firecrawl', ...BEARER, hosts: ['api.firecrawl.dev'], envKeys: ['FIRECRAWL_API_KEY'], standIn: alnum('fc-', 36) },
  { name: 'gemini', display: 'Google Gemini', ...apiKey('x-goog-api-key'), hosts: ['generativelanguage.googleapis.com'], envKeys: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'], standIn: b64url('AIza', 35) },
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
  { name: 'gitlab', display: 'GitLab', ...apiKey('PRIVATE-TOKEN'), hosts: ['gitlab.com'], envKeys: ['GITLAB_TOKEN', 'GITLAB_PERSONAL_ACCESS_TOKEN'], standIn: alnum('glpat-', 20), alsoAccepts: ALSO_BEARER },
  // Linear wants the raw key in Authorization, without a "Bearer " prefix.
  { name: 'linear', display: 'Linear', ...apiKey('Authorization'), hosts: ['api.linear.app'], envKeys: ['LINEAR_API_KEY'], standIn: alnum('lin_api_', 32) },
  { name: 'notion', display: 'Notion', ...BEARER, hosts: ['api.notion.com'], envKeys: ['NOTION_API_KEY', 'NOTION_TOKEN'], standIn: alnum('ntn_', 43) },
  { name: 'openai', display: 'OpenAI', ...BEARER, hosts: ['api.openai.com'], envKeys: ['OPENAI_API_KEY'], standIn: alnum('sk-proj-', 64) },
  { name: 'openrouter', display: 'OpenRouter', ...BEARER, hosts: ['openrouter.ai'], envKeys: ['OPENROUTER_API_KEY'], standIn: alnum('sk-or-v1-', 64) },
  { name: 'perplexity', display: 'Perplexity', ...BEARER, hosts: ['api.perplexity.ai'], envKeys: ['PERPLEXITY_API_KEY', 'PPLX_API_KEY'], standIn: alnum('pplx-', 48) },
  { name: 'resend', display: 'Resend', ...BEARER, hosts: ['api.resend.com'], envKeys: ['RESEND_API_KEY'], standIn: alnum('re_', 24) },
  { name: 'sentry', display: 'Sentry', ...BEARER, hosts: ['sentry.io'], envKeys: ['SENTRY_AUTH_TOKEN'], standIn: alnum('sntrys_', 32) },
  { name: 'slack', display: 'Slack', ...BEARER, hosts: ['slack.com'], envKeys: ['SLACK_BOT_TOKEN', 'SLACK_TOKEN'], standIn: b64url('xoxb-', 43) },
  // sk_test_, never sk_live_, so secret scanners do not report the stand-in as a live key.
  { name: 'stripe', display: 'Stripe', ...BEARER, hosts: ['api.stripe.com'], envKeys: ['STRIPE_SECRET_KEY', 'STRIPE_API_KEY'], standIn: alnum('sk_test_', 24) },
  { name: 'vercel', display: 'Vercel', ...BEARER, hosts: ['api.vercel.com'], envKeys: ['VERCEL_TOKEN'], standIn: alnum('vcp_', 24) },
  { name: 'xai', display: 'xAI', ...BEARER, hosts: ['api.x.ai'], envKeys: ['XAI_API_KEY'], standIn: alnum('xai-', 80) },
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
