import { z } from 'zod';

const positiveMs = z.number().int().positive();

/** Which part of credproxy a process runs (README "Fleet mode"). */
export const ROLES = ['standalone', 'control', 'sidecar'] as const;
export type Role = (typeof ROLES)[number];

/**
 * `fleet.*`: one control plane on PostgreSQL and many sidecars. The default role, standalone, is
 * the single daemon on SQLite and ignores every other key here.
 */
export const FLEET_SCHEMA = z
  .object({
    /** standalone: proxy and admin API in one process on SQLite. control: the admin API on PostgreSQL. sidecar: a proxy fed by a control plane. Default standalone. */
    role: z.enum(ROLES).default('standalone'),
    /** control: PostgreSQL connection URL, e.g. postgres://credproxy@db:5432/credproxy. */
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
      .optional(),
    /** control: PostgreSQL connections per replica. Default 10. */
    databasePoolSize: z.number().int().min(2).max(200).default(10),
    /** control: how often the change stream tells each sidecar it is still current. Default 5000. */
    heartbeatMs: positiveMs.default(5_000),
    /** sidecar: the control plane's admin URL, e.g. http://credproxy-control:8081. */
    controlUrl: z.string().url().optional(),
    /** sidecar: this sidecar's token, from POST /fleet/sidecars on the control plane. */
    sidecarToken: z.string().min(16, 'must be the token POST /fleet/sidecars returned').optional(),
    /** sidecar: longest it serves from its bundle without hearing from the control plane, then 503 policy_unavailable. Default 300000. */
    maxBundleAgeMs: positiveMs.default(300_000),
    /** sidecar: how often audit rows are shipped from the local outbox to the control plane. Default 1000. */
    shipIntervalMs: z.number().int().min(10).max(60_000).default(1_000),
  })
  .strict()
  .prefault({});

export const FLEET_ENV_KEYS = [
  { env: 'CREDPROXY_ROLE', key: 'fleet.role', kind: 'string' },
  { env: 'CREDPROXY_DATABASE_URL', key: 'fleet.databaseUrl', kind: 'string' },
  { env: 'CREDPROXY_CONTROL_URL', key: 'fleet.controlUrl', kind: 'string' },
  { env: 'CREDPROXY_SIDECAR_TOKEN', key: 'fleet.sidecarToken', kind: 'string' },
] as const;

interface FleetKeys {
  fleet: z.output<typeof FLEET_SCHEMA>;
  masterKey?: string | undefined;
  admin: { apiKey?: string | undefined };
}

/**
 * Keys a role cannot start without. Control-plane replicas are interchangeable, so they cannot
 * each generate their own master key or API key as the single daemon does.
 */
export function requireFleetKeys(config: FleetKeys, ctx: z.RefinementCtx): void {
  const need = (present: unknown, path: string[]) => {
    if (present === undefined) ctx.addIssue({ code: 'custom', path, message: `required when fleet.role is ${config.fleet.role}` });
  };
  if (config.fleet.role === 'control') {
    need(config.fleet.databaseUrl, ['fleet', 'databaseUrl']);
    need(config.masterKey, ['masterKey']);
    need(config.admin.apiKey, ['admin', 'apiKey']);
  } else if (config.fleet.role === 'sidecar') {
    need(config.fleet.controlUrl, ['fleet', 'controlUrl']);
    need(config.fleet.sidecarToken, ['fleet', 'sidecarToken']);
  }
}
