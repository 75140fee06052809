import { z } from 'zod';
import { FLEET_SCHEMA, FLEET_ENV_KEYS, requireFleetKeys } from './fleet-schema.js';

/** `host:port` or `[v6]:port`; port 0 binds a free port. */
const LISTEN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
/** `host:port=ip:port`, the shape of curl's `--resolve`. */
const RESOLVE_ENTRY = /^([A-Za-z0-9.*-]+):(\d{1,5})=(\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d{1,5})$/;

const listen = z
  .string()
  .refine((v) => LISTEN.test(v) && Number(LISTEN.exec(v)![2]) <= 65535, {
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
        maxBodyBytes: z.number().int().positive().default(256 * 1024 * 1024),
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
        /** Longest a client may take to send one request's headers (408 beyond). Default 30000. */
        headersTimeoutMs: positiveMs.default(30_000),
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
        /** Wait for upstream response headers (504 upstream_timeout). Default 30000. */
        headersTimeoutMs: positiveMs.default(30_000),
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

/** Environment variables and the config key each one sets, with how its text becomes a value. */
export const ENV_KEYS: ReadonlyArray<{ env: string; key: string; kind: 'string' | 'boolean' | 'int' | 'list' }> = [
  { env: 'CREDPROXY_PROXY_LISTEN', key: 'proxy.listen', kind: 'string' },
  { env: 'CREDPROXY_ADMIN_LISTEN', key: 'admin.listen', kind: 'string' },
  { env: 'CREDPROXY_TRANSPARENT_HTTPS', key: 'transparent.https', kind: 'string' },
  { env: 'CREDPROXY_TRANSPARENT_HTTP', key: 'transparent.http', kind: 'string' },
  { env: 'CREDPROXY_TRANSPARENT_SANDBOX', key: 'transparent.sandbox', kind: 'string' },
  { env: 'CREDPROXY_API_KEY', key: 'admin.apiKey', kind: 'string' },
  { env: 'CREDPROXY_DATA_DIR', key: 'dataDir', kind: 'string' },
  { env: 'CREDPROXY_CA_CERT', key: 'ca.cert', kind: 'string' },
  { env: 'CREDPROXY_CA_KEY', key: 'ca.key', kind: 'string' },
  { env: 'CREDPROXY_MASTER_KEY', key: 'masterKey', kind: 'string' },
  { env: 'CREDPROXY_UPSTREAM_CA', key: 'upstream.caFile', kind: 'string' },
  { env: 'CREDPROXY_RESOLVE', key: 'upstream.resolve', kind: 'list' },
  { env: 'CREDPROXY_ALLOW_PRIVATE', key: 'egress.allowPrivateNetworks', kind: 'boolean' },
  { env: 'CREDPROXY_REQUIRE_PROXY_AUTH', key: 'proxy.requireAuth', kind: 'boolean' },
  { env: 'CREDPROXY_LOG_LEVEL', key: 'log.level', kind: 'string' },
  { env: 'CREDPROXY_SANDBOX_PROXY_URL', key: 'sandbox.proxyUrl', kind: 'string' },
  { env: 'CREDPROXY_SANDBOX_CA_PATH', key: 'sandbox.caPath', kind: 'string' },
  { env: 'CREDPROXY_METRICS_AUTH', key: 'admin.metricsAuth', kind: 'boolean' },
  { env: 'CREDPROXY_AUDIT_RETENTION_DAYS', key: 'audit.retentionDays', kind: 'int' },
  ...FLEET_ENV_KEYS,
];
