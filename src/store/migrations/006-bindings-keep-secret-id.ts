/**
 * Bindings keep their secret's id when the secret is deleted, instead of losing it to the foreign
 * key's `ON DELETE SET NULL`: deleting a secret bound to 8,000 sandboxes then writes its own row,
 * not 8,000 binding rows (≈ 45 ms on the daemon's thread). `revoked` in the table records a detach
 * only; the view `binding_states`, which every read goes through, adds `credential_revoked` for a
 * binding whose secret no longer exists, so reads see the same columns and values as before.
 * Also indexes what deletes look up row by row: bindings by sandbox (the cascade from `sandboxes`,
 * which scanned every binding) and agents by sandbox (their `ON DELETE SET NULL`).
 */
export const MIGRATION_006_BINDINGS_KEEP_SECRET_ID = `
CREATE TABLE bindings_new (
  id          INTEGER PRIMARY KEY,
  sandbox_id  TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
  env_key     TEXT NOT NULL,
  secret_id   TEXT,                      -- also after the secret is deleted; NULL only if deleted before migration 004
  secret_name TEXT NOT NULL,
  stand_in    TEXT NOT NULL UNIQUE,
  revoked     TEXT CHECK (revoked = 'proxy_token_revoked'), -- set by a detach
  created_at  TEXT NOT NULL
);
INSERT INTO bindings_new (id, sandbox_id, env_key, secret_id, secret_name, stand_in, revoked, created_at)
  SELECT id, sandbox_id, env_key, COALESCE(secret_id, deleted_secret_id), secret_name, stand_in,
    CASE WHEN revoked = 'proxy_token_revoked' THEN revoked END, created_at
  FROM bindings;
DROP TABLE bindings;
ALTER TABLE bindings_new RENAME TO bindings;
-- A detached binding keeps its row (its stand-in must answer 503 proxy_token_revoked) but frees its key.
CREATE UNIQUE INDEX bindings_live_env_key ON bindings(sandbox_id, env_key) WHERE revoked IS NULL;
CREATE INDEX bindings_sandbox ON bindings(sandbox_id);
CREATE INDEX bindings_secret ON bindings(secret_id);
CREATE INDEX agents_sandbox ON agents(sandbox_id);
CREATE VIEW binding_states AS
  SELECT b.id, b.sandbox_id, b.env_key, b.secret_id, b.secret_name, b.stand_in, b.created_at,
    CASE WHEN b.revoked IS NOT NULL THEN b.revoked WHEN s.id IS NULL THEN 'credential_revoked' END AS revoked
  FROM bindings b LEFT JOIN secrets s ON s.id = b.secret_id;
`;
