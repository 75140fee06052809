/**
 * The initial schema. Timestamps are RFC 3339 UTC text with milliseconds; JSON columns hold the
 * API's own shapes. No column ever holds a cleartext secret value.
 */
export const MIGRATION_001_INIT = `
CREATE TABLE secrets (
  id           TEXT PRIMARY KEY,          -- uuid
  name         TEXT NOT NULL UNIQUE,
  auth_type    TEXT NOT NULL,             -- bearer | basic | api-key | custom | per_host
  auth_config  TEXT NOT NULL,             -- JSON, exactly as the API returns it
  provider     TEXT,                      -- provider shortcut, NULL for custom auth
  hosts        TEXT NOT NULL,             -- JSON array of host patterns
  value_enc    BLOB NOT NULL,             -- AES-256-GCM: nonce(12) | tag(16) | ciphertext; AAD = id
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  last_used_at TEXT
);

CREATE TABLE sandboxes (
  id           TEXT PRIMARY KEY,          -- uuid
  name         TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'active',
  access_token TEXT NOT NULL UNIQUE,
  env_vars     TEXT NOT NULL DEFAULT '{}', -- JSON object of plain env vars
  network      TEXT NOT NULL DEFAULT '{"allow_out":[],"deny_out":[]}',
  metadata     TEXT NOT NULL DEFAULT '{}',
  created_at   TEXT NOT NULL
);

CREATE TABLE bindings (
  id          INTEGER PRIMARY KEY,
  sandbox_id  TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
  env_key     TEXT NOT NULL,
  secret_id   TEXT REFERENCES secrets(id) ON DELETE SET NULL,
  secret_name TEXT NOT NULL,
  stand_in    TEXT NOT NULL UNIQUE,
  revoked     TEXT CHECK (revoked IN ('credential_revoked', 'proxy_token_revoked')),
  created_at  TEXT NOT NULL
);
-- A detached binding keeps its row (its stand-in must answer 503 proxy_token_revoked) but frees its key.
CREATE UNIQUE INDEX bindings_live_env_key ON bindings(sandbox_id, env_key)
  WHERE revoked IS NULL OR revoked <> 'proxy_token_revoked';
CREATE INDEX bindings_secret ON bindings(secret_id);

-- Audit trail and network log in one table so one id sequence orders both (docs/contract.md#audit).
CREATE TABLE events (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  kind            TEXT NOT NULL CHECK (kind IN ('request', 'connection')),
  ts              TEXT NOT NULL,
  sandbox_id      TEXT,
  sandbox_name    TEXT,
  secret_id       TEXT,
  host            TEXT,
  method          TEXT,
  path            TEXT,
  status          INTEGER,
  upstream_status INTEGER,
  latency_ms      REAL,
  error_code      TEXT,
  dst_ip          TEXT,
  dst_port        INTEGER,
  verdict         TEXT CHECK (verdict IN ('allowed', 'blocked', 'failed')),
  match_rule      TEXT,
  bytes_sent      INTEGER,
  bytes_recv      INTEGER
);
CREATE INDEX events_secret_requests ON events(secret_id, id) WHERE kind = 'request';
CREATE INDEX events_sandbox ON events(sandbox_id, id);
CREATE INDEX events_ts ON events(ts);
`;
