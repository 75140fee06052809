import { MIGRATION_001_INIT } from './001-init.js';

/** Ordered schema migrations; `PRAGMA user_version` records how many have run. Append only. */
export const MIGRATIONS: readonly string[] = [MIGRATION_001_INIT];
