import { z } from 'zod';
import { FLEET_SCHEMA, FLEET_ENV_KEYS, requireFleetKeys } from './fleet-schema.js';

/** `host:port` or `[v6]:port`; port 0 binds a free port. */
const LISTEN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
/** `host:port=ip:port`, the shape of curl's `--resolve`. */
const RESOLVE_ENTRY = /^([A-Za-z0-9.*-]+):(\d{1,5})=(\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d{1,5})$/;

const listen = z.string().refine((v) => LISTEN.test(v) && Number(LISTEN.exec(v)![2]) <= 65535, {
  message: 'expected host:port, e.g. 127.0.0.1:8080 (port 0 picks a free port)',
});

const resolveEntry = z.string().refine((v) => RESOLVE_ENTRY.test(v), {
  message: 'expected host:port=ip:port, e.g. api.example.com:443=127.0.0.1:8443',
});

const positiveMs = z.number().int().positive();

/**
 * The whole configuration. Every key is documented in config/default.yaml and the README table;
 * `test/unit/config/docs.test.ts` keeps the three in step.
 */
export const CONFIG_SCHEMA = z
  .object({
    proxy: z
      .object({
        /** Proxy listener for sandboxes. Default 127.0.0.1:8080. */
        listen: listen.default('127.0.0.1:8080'),
        /** 407 without a valid sandbox identity. When false, requests are unattributed. Default true. */
        requireAuth: z.boolean().default(true),
        /** Idle tunnel / keep-alive connection timeout. Default 120000 (2 min). */
        idleTimeoutMs: positiveMs.default(120_000),
        /** Client TLS handshake timeout inside a tunnel. Default 10000. */
        handshakeTimeoutMs: positiveMs.default(10_000),
        /** Longest a client may take to send one request's headers, in a tunnel or not (408 beyond). Default 30000. */
        headersTimeoutMs: positiveMs.default(30_000),
        /** Largest request header block accepted from a client (431 beyond). Default 32768. */
        maxHeaderBytes: z.number().int().min(1024).max(1_048_576).default(32_768),
        /** Largest request body forwarded (413 body_too_large beyond). Default 256 MiB. */
        maxBodyBytes: z
          .number()
          .int()
          .positive()
          .default(256 * 1024 * 1024),
        /** How long SIGTERM waits for requests in flight. Default 10000. */
        drainTimeoutMs: positiveMs.default(10_000),
      })
      .strict()
      .prefault({}),
    transparent: z
      .object({
        /**
         * Listener for TLS connections the kernel redirected here (iptables REDIRECT of TCP 443,
         * `credproxy iptables`): the host comes from SNI. Off unless set.
         */
        https: listen.optional(),
        /** Listener for redirected plain HTTP (TCP 80): the host comes from Host, never injected. Off unless set. */
        http: listen.optional(),
        /**
         * The sandbox (name or id) every transparent connection belongs to. Unset: the sandbox that
         * declared the connection's source address (`source_addresses`); unknown sources are refused.
         */
        sandbox: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    admin: z
      .object({
        /** Admin API listener. Default 127.0.0.1:8081. */
        listen: listen.default('127.0.0.1:8081'),
        /** Admin API key. Default: generated into <dataDir>/admin-api-key (0600). */
        apiKey: z.string().min(16, 'must be at least 16 characters').optional(),
        /** When true, GET /metrics needs the API key. Default false. */
        metricsAuth: z.boolean().default(false),
        /**
         * Host names (no port) the admin API answers to besides IP literals, localhost, the listen
         * host and dotless service names; any other Host is refused (DNS rebinding). Default none.
         */
        allowedHosts: z
          .array(
            z
              .string()
              .regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, 'must be host names without scheme or port'),
          )
          .default([]),
        /** Longest a client may take to send one request's headers (408 beyond). Default 30000. */
        headersTimeoutMs: positiveMs.default(30_000),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        /**
         * A listener of its own for /metrics, /healthz and /readyz (no API key), e.g. on an
         * interface only Prometheus reaches. Default: none (they are on the admin listener).
         */
        listen: listen.optional(),
      })
      .strict()
      .prefault({}),
    /** State directory: SQLite database, generated keys, CA bundle. Default ./data. */
    dataDir: z.string().min(1).default('./data'),
    ca: z
      .object({
        /** CA certificate (PEM). Generated on first start. Default ./certs/ca.crt. */
        cert: z.string().min(1).default('./certs/ca.crt'),
        /** CA private key (PEM, 0600). Generated on first start. Default ./certs/ca.key. */
        key: z.string().min(1).default('./certs/ca.key'),
      })
      .strict()
      .prefault({}),
    /** Base64 of 32 bytes; encrypts secret values at rest. Default: generated into <dataDir>/master.key. */
    masterKey: z
      .string()
      .refine((v) => Buffer.from(v, 'base64').length === 32, {
        message: 'must be the base64 encoding of exactly 32 bytes (openssl rand -base64 32)',
      })
      .optional(),
    upstream: z
      .object({
        /** Extra PEM roots trusted for upstream TLS, on top of the system roots. */
        caFile: z.string().min(1).optional(),
        /** host:port=ip:port overrides (curl --resolve); targets count as operator-approved. */
        resolve: z.array(resolveEntry).default([]),
        /** Upstream TCP+TLS connect timeout (504 upstream_timeout). Default 10000. */
        connectTimeoutMs: positiveMs.default(10_000),
        /**
         * Wait for upstream response headers (504 upstream_timeout). Default 600000 (10 min): a
         * non-streaming LLM call sends its headers only with the whole answer, and the official
         * SDKs wait up to 10 minutes for it.
         */
        headersTimeoutMs: positiveMs.default(600_000),
        /** Longest silence inside an upstream response body. Default 300000. */
        bodyTimeoutMs: positiveMs.default(300_000),
      })
      .strict()
      .prefault({}),
    egress: z
      .object({
        /** Allow loopback/private/link-local upstreams. Default false. */
        allowPrivateNetworks: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        /** pino level. Default info. */
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    sandbox: z
      .object({
        /** Proxy address sandboxes use in HTTPS_PROXY. Default http://<proxy.listen>. */
        proxyUrl: z.string().url().optional(),
        /** Path of the CA bundle inside the sandbox. Default <dataDir>/ca-bundle.pem. */
        caPath: z.string().min(1).optional(),
        /**
         * Path of the sandbox kit (<dataDir>/sandbox-kit) inside the sandbox. Default
         * <dataDir>/sandbox-kit, handed out only while caPath is unset too (the sandbox sees the data dir).
         */
        kitPath: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    audit: z
      .object({
        /** Audit and network rows older than this are deleted. Default 7. */
        retentionDays: z.number().int().min(1).max(3650).default(7),
        /** Rows held in memory before new ones are dropped (and counted). Default 10000. */
        queueSize: z.number().int().min(10).default(10_000),
        /** Longest a row waits before its batch is written. Default 1000. */
        flushIntervalMs: z.number().int().min(10).max(1000).default(1000),
      })
      .strict()
      .prefault({}),
    fleet: FLEET_SCHEMA,
  })
  .strict()
  .superRefine(requireFleetKeys);

export type Config = z.output<typeof CONFIG_SCHEMA>;
export type DeepReadonly<T> = { readonly [K in keyof T]: T[K] extends object ? DeepReadonly<T[K]> : T[K] };
export type FrozenConfig = DeepReadonly<Config>;

/** How an environment variable's text becomes a value. */
export type EnvKind = 'string' | 'boolean' | 'int' | 'list';

export interface EnvKey {
  readonly env: string;
  /** Dotted config key. */
  readonly key: string;
  readonly kind: EnvKind;
}

/**
 * Keys whose variable was named before names were derived (docs/contract.md#config, and fleet mode's); every
 * other key's variable is `CREDPROXY_` + its dotted path in SCREAMING_SNAKE
 * (`proxy.idleTimeoutMs` → `CREDPROXY_PROXY_IDLE_TIMEOUT_MS`). One variable per key.
 */
const NAMED_ENV: Readonly<Record<string, string>> = {
  'admin.apiKey': 'CREDPROXY_API_KEY',
  'admin.metricsAuth': 'CREDPROXY_METRICS_AUTH',
  'upstream.caFile': 'CREDPROXY_UPSTREAM_CA',
  'upstream.resolve': 'CREDPROXY_RESOLVE',
  'egress.allowPrivateNetworks': 'CREDPROXY_ALLOW_PRIVATE',
  'proxy.requireAuth': 'CREDPROXY_REQUIRE_PROXY_AUTH',
  ...Object.fromEntries(FLEET_ENV_KEYS.map(({ key, env }) => [key, env])),
};

/** `proxy.idleTimeoutMs` → `CREDPROXY_PROXY_IDLE_TIMEOUT_MS`. */
export function derivedEnvName(key: string): string {
  return `CREDPROXY_${key
    .split('.')
    .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2'))
    .join('_')
    .toUpperCase()}`;
}

interface ZodDefLike {
  readonly type: string;
  readonly innerType?: { readonly _zod: { readonly def: ZodDefLike } };
  readonly shape?: Readonly<Record<string, { readonly _zod: { readonly def: ZodDefLike } }>>;
}

const KIND_OF_TYPE: Readonly<Record<string, EnvKind>> = { string: 'string', enum: 'string', boolean: 'boolean', number: 'int', array: 'list' };

/** Every leaf of the schema with its variable, read from the schema itself so no key is left out. */
function envKeysOf(def: ZodDefLike, prefix = ''): EnvKey[] {
  while (def.innerType) def = def.innerType._zod.def;
  if (def.type === 'object' && def.shape) {
    return Object.entries(def.shape).flatMap(([name, child]) => envKeysOf(child._zod.def, prefix ? `${prefix}.${name}` : name));
  }
  const kind = KIND_OF_TYPE[def.type];
  if (kind === undefined) throw new Error(`config key ${prefix}: no environment form for a ${def.type}; add one to KIND_OF_TYPE`);
  return [{ env: NAMED_ENV[prefix] ?? derivedEnvName(prefix), key: prefix, kind }];
}

/** Environment variables and the config key each one sets: every key of CONFIG_SCHEMA. */
export const ENV_KEYS: readonly EnvKey[] = envKeysOf(CONFIG_SCHEMA._zod.def as unknown as ZodDefLike);
