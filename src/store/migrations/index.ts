import { MIGRATION_001_INIT } from './001-init.js';
import { MIGRATION_002_AGENTS } from './002-agents.js';
import { MIGRATION_003_DROP_EVENTS_TS } from './003-drop-events-ts.js';
import { MIGRATION_004_DELETED_SECRET_ID } from './004-deleted-secret-id.js';
import { MIGRATION_005_EVENTS_CHECKS } from './005-events-checks.js';
import { MIGRATION_006_BINDINGS_KEEP_SECRET_ID } from './006-bindings-keep-secret-id.js';
import { MIGRATION_007_SOURCE_ADDRESSES } from './007-source-addresses.js';
import { MIGRATION_008_EVENTS_REQUEST_ID } from './008-events-request-id.js';
import { MIGRATION_009_COMPACT_EVENTS } from './009-compact-events.js';
import { MIGRATION_010_LIST_INDEXES } from './010-list-indexes.js';
import { MIGRATION_011_SANDBOX_NAMES_EXPIRY } from './011-sandbox-names-expiry.js';

/** Ordered schema migrations; `PRAGMA user_version` records how many have run. Append only. */
export const MIGRATIONS: readonly string[] = [
  MIGRATION_001_INIT,
  MIGRATION_002_AGENTS,
  MIGRATION_003_DROP_EVENTS_TS,
  MIGRATION_004_DELETED_SECRET_ID,
  MIGRATION_005_EVENTS_CHECKS,
  MIGRATION_006_BINDINGS_KEEP_SECRET_ID,
  MIGRATION_007_SOURCE_ADDRESSES,
  MIGRATION_008_EVENTS_REQUEST_ID,
  MIGRATION_009_COMPACT_EVENTS,
  MIGRATION_010_LIST_INDEXES,
  MIGRATION_011_SANDBOX_NAMES_EXPIRY,
];
