/**
 * Sandboxes may expire (`expires_at`, RFC 3339 UTC as toISOString() writes it, so text order is
 * time order; NULL = never), and a name belongs to one live sandbox at a time. The name rule is
 * checked inside the create transaction rather than by a UNIQUE index: databases made before it
 * may hold several sandboxes of one name, which stay as they are. The index on name serves that
 * check, the partial one on expires_at the sweeper.
 */
export const MIGRATION_011_SANDBOX_NAMES_EXPIRY = `
ALTER TABLE sandboxes ADD COLUMN expires_at TEXT;
CREATE INDEX sandboxes_name ON sandboxes(name);
CREATE INDEX sandboxes_expires ON sandboxes(expires_at) WHERE expires_at IS NOT NULL;
`;
