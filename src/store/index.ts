import { join } from 'node:path';
import type { RuleSource, StoreChange } from '../rules/source.js';
import type { SecretCipher } from '../secrets/crypto.js';
import { SANDBOX_RULES } from '../secrets/sandbox-rules.js';
import { AgentsRepository } from './agents.js';
import { openDatabase, type Database } from './db.js';
import { EventsRepository } from './events.js';
import { StoreRuleSource } from './rule-source.js';
import { SandboxesRepository } from './sandboxes.js';
import { SecretsRepository } from './secrets.js';

export { openDatabase, type Database } from './db.js';
export { holdingDataDir, lockDataDir } from './data-dir-lock.js';
export type { SecretRecord } from './secrets.js';
export type { SandboxBinding, SandboxRecord, SecretBinding } from './sandboxes.js';
export { AgentsRepository, EventsRepository, SecretsRepository, SandboxesRepository, StoreRuleSource };

/** File name of the database inside the data dir. */
export const DATABASE_FILE = 'credproxy.db';

export interface StoreOptions {
  /** The database lives at `<dataDir>/credproxy.db`. */
  readonly dataDir: string;
  readonly cipher: SecretCipher;
}

/** All persistent state: the open database and the repositories over it. Serves api/admin-store.ts. */
export interface Store {
  readonly db: Database;
  readonly secrets: SecretsRepository;
  readonly sandboxes: SandboxesRepository;
  /** Reads the audit and network logs; rows are written by the audit writer's own connection. */
  readonly events: EventsRepository;
  readonly agents: AgentsRepository;
  readonly ruleSource: RuleSource;
  /**
   * Calls `listener` synchronously after each committed mutation, before the mutating call
   * returns (so a request that starts after an API call returned sees the change). Listener
   * errors propagate to the caller. Returns a function that removes the listener.
   */
  onChange(listener: (change: StoreChange) => void): () => void;
  close(): void;
}

export function openStore(options: StoreOptions): Store {
  const db = openDatabase(join(options.dataDir, DATABASE_FILE));
  const listeners = new Set<(change: StoreChange) => void>();
  const emit = (change: StoreChange): void => {
    for (const listener of listeners) listener(change);
  };
  return {
    db,
    secrets: new SecretsRepository(db, options.cipher, emit),
    sandboxes: new SandboxesRepository(db, emit, SANDBOX_RULES),
    events: new EventsRepository(db),
    agents: new AgentsRepository(db, options.cipher),
    ruleSource: new StoreRuleSource(db, options.cipher),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      listeners.clear();
      if (db.open) db.close();
    },
  };
}
