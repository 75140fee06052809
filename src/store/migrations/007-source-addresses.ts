/**
 * Sandboxes declare the addresses their transparent-mode traffic comes from (`source_addresses`,
 * a JSON array as the API returns it). `sandbox_source_addresses` holds one row per declared
 * address, so that an address belongs to one sandbox at most (its primary key) and the sandbox
 * holding it is found without reading every sandbox; a sandbox's rows go with it.
 */
export const MIGRATION_007_SOURCE_ADDRESSES = `
ALTER TABLE sandboxes ADD COLUMN source_addresses TEXT NOT NULL DEFAULT '[]';
CREATE TABLE sandbox_source_addresses (
  address    TEXT PRIMARY KEY,          -- one spelling per address (secrets/validate-sandbox.ts)
  sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX sandbox_source_addresses_sandbox ON sandbox_source_addresses(sandbox_id);
`;
