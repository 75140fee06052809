import type { EnvelopeCipher } from '../../secrets/envelope.js';
import { SANDBOX_RULES } from '../../secrets/sandbox-rules.js';
import { PgAgentsRepository } from './agents.js';
import { openPostgres, type PgPool } from './db.js';
import { PgEventsRepository } from './events.js';
import { PgFleetRepository } from './fleet.js';
import { PgSandboxesRepository } from './sandboxes.js';
import { PgSecretsRepository } from './secrets.js';

export { CHANGES_CHANNEL, changesAfter, type ChangeRecord } from './changes.js';
export { EventBatchError, partitionName } from './events.js';
export type { BundleRows, SidecarInfo } from './fleet.js';
export type { PgPool } from './db.js';

export interface PgStoreOptions {
  readonly url: string;
  readonly poolSize: number;
  readonly envelope: EnvelopeCipher;
  readonly retentionDays: number;
}

/** The control plane's state on PostgreSQL: one pool, the repositories over it. Serves api/admin-store.ts. */
export interface PgStore {
  readonly pool: PgPool;
  readonly secrets: PgSecretsRepository;
  readonly sandboxes: PgSandboxesRepository;
  readonly agents: PgAgentsRepository;
  readonly fleet: PgFleetRepository;
  readonly events: PgEventsRepository;
  close(): Promise<void>;
}

export async function openPgStore(options: PgStoreOptions): Promise<PgStore> {
  const pool = await openPostgres(options);
  return {
    pool,
    secrets: new PgSecretsRepository(pool, options.envelope),
    sandboxes: new PgSandboxesRepository(pool, SANDBOX_RULES),
    agents: new PgAgentsRepository(pool, options.envelope),
    fleet: new PgFleetRepository(pool),
    events: new PgEventsRepository(pool, { retentionDays: options.retentionDays }),
    close: () => pool.end(),
  };
}
