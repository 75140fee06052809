/**
 * Agents and their secrets (docs/contract.md#agent-api). A provider key points at a row of `secrets` (its value is
 * sealed there); a plain key's value is sealed here with AAD = `<agent id>:<key>`. Deleting the
 * secret behind a provider key removes the key, so an agent never lists a key it cannot hand over.
 */
export const MIGRATION_002_AGENTS = `
CREATE TABLE agents (
  id               TEXT PRIMARY KEY,          -- agt_<24 hex>
  name             TEXT NOT NULL UNIQUE,
  command          TEXT,
  required_secrets TEXT NOT NULL DEFAULT '[]', -- JSON array of env keys
  sandbox_id       TEXT REFERENCES sandboxes(id) ON DELETE SET NULL,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);

CREATE TABLE agent_secrets (
  agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  key        TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('provider', 'plain')),
  secret_id  TEXT REFERENCES secrets(id) ON DELETE CASCADE,
  value_enc  BLOB,                               -- AES-256-GCM, plain keys only
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (agent_id, key),
  CHECK ((kind = 'provider' AND secret_id IS NOT NULL AND value_enc IS NULL)
      OR (kind = 'plain' AND secret_id IS NULL AND value_enc IS NOT NULL))
);
CREATE INDEX agent_secrets_secret ON agent_secrets(secret_id);
`;
