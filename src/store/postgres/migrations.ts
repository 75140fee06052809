/**
 * The control plane's schema on PostgreSQL, as store/migrations/ is for SQLite: ordered, append
 * only, each run in one transaction with its version recorded in `schema_migrations`. The
 * secret, sandbox and binding tables mirror SQLite's (JSON kept as text, so the API returns it
 * byte for byte as stored); values are envelope-encrypted (secrets/envelope.ts).
 */
export const PG_MIGRATIONS: readonly string[] = [
  `
CREATE TABLE secrets (
  id           text PRIMARY KEY,
  name         text NOT NULL UNIQUE,
  auth_type    text NOT NULL,
  auth_config  text NOT NULL,             -- JSON, exactly as the API returns it
  provider     text,
  hosts        text NOT NULL,             -- JSON array of host patterns
  value_enc    bytea NOT NULL,            -- AES-256-GCM under the data key; AAD = id
  data_key_enc bytea NOT NULL,            -- the data key, wrapped by key_id
  key_id       text NOT NULL,
  created_at   text NOT NULL,
  updated_at   text NOT NULL,
  last_used_at text
);

CREATE TABLE sandboxes (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  status       text NOT NULL DEFAULT 'active',
  access_token text NOT NULL UNIQUE,
  env_vars     text NOT NULL DEFAULT '{}',
  network      text NOT NULL,
  metadata     text NOT NULL DEFAULT '{}',
  sidecar      text,                      -- the sidecar that serves it (metadata credproxy_sidecar)
  created_at   text NOT NULL,
  seq          bigserial                  -- creation order, like SQLite's rowid
);
CREATE INDEX sandboxes_sidecar ON sandboxes(sidecar);

CREATE TABLE bindings (
  id                bigserial PRIMARY KEY,
  sandbox_id        text NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
  env_key           text NOT NULL,
  secret_id         text REFERENCES secrets(id) ON DELETE SET NULL,
  deleted_secret_id text,
  secret_name       text NOT NULL,
  stand_in          text NOT NULL UNIQUE,
  revoked           text CHECK (revoked IN ('credential_revoked', 'proxy_token_revoked')),
  created_at        text NOT NULL
);
CREATE UNIQUE INDEX bindings_live_env_key ON bindings(sandbox_id, env_key)
  WHERE revoked IS NULL OR revoked <> 'proxy_token_revoked';
CREATE INDEX bindings_secret ON bindings(secret_id);
CREATE INDEX bindings_sandbox ON bindings(sandbox_id);

-- Sidecars: a token (stored as its SHA-256) and a name that sandboxes are assigned to.
CREATE TABLE sidecars (
  name         text PRIMARY KEY,
  token_hash   bytea NOT NULL UNIQUE,
  created_at   text NOT NULL,
  last_seen_at text
);

-- Every committed change, in order; sidecars follow it from the seq of their bundle.
CREATE TABLE changes (
  seq        bigserial PRIMARY KEY,
  kind       text NOT NULL CHECK (kind IN ('sandbox', 'secret', 'sidecar')),
  subject_id text NOT NULL,
  sidecar    text,                        -- the sidecar a sandbox/sidecar change is for; secret changes go to all
  at         timestamptz NOT NULL DEFAULT now()
);

-- Audit and network rows from every sidecar, one range partition per UTC day (created on
-- demand, dropped whole by retention). (source, source_id) is the sidecar's own idempotent id.
CREATE TABLE events (
  id              bigserial,
  ts              timestamptz NOT NULL,
  source          text NOT NULL,
  source_id       bigint NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('request', 'connection')),
  sandbox_id      text,
  sandbox_name    text,
  secret_id       text,
  host            text,
  method          text,
  path            text,
  status          integer,
  upstream_status integer,
  latency_ms      double precision,
  error_code      text,
  dst_ip          text,
  dst_port        integer,
  verdict         text CHECK (verdict IN ('allowed', 'blocked', 'failed')),
  match_rule      text,
  bytes_sent      bigint,
  bytes_recv      bigint,
  UNIQUE (source, source_id, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX events_secret_requests ON events(secret_id, id) WHERE kind = 'request';
CREATE INDEX events_sandbox ON events(sandbox_id, id);
`,
  // Source addresses (SQLite migration 007). An address identifies one sandbox among those one
  // sidecar serves; sandboxes on different nodes may share a private address. '' = no sidecar.
  `
ALTER TABLE sandboxes ADD COLUMN source_addresses text NOT NULL DEFAULT '[]';
CREATE TABLE sandbox_source_addresses (
  sidecar    text NOT NULL,
  address    text NOT NULL,
  sandbox_id text NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
  PRIMARY KEY (sidecar, address)
);
CREATE INDEX sandbox_source_addresses_sandbox ON sandbox_source_addresses(sandbox_id);
`,
  // 003: a change says whether its subject was deleted, so a sidecar revokes without a fetch.
  `ALTER TABLE changes ADD COLUMN deleted boolean NOT NULL DEFAULT false;`,
  // 004: each row keeps the X-Credproxy-Request-Id its client got (SQLite migration 008).
  `
ALTER TABLE events ADD COLUMN request_id text;
`,
  // 005: agents and their keys (SQLite migrations 002 and 006). A provider key points at its
  // secret; a plain key's value is envelope-sealed here (AAD `<agent id>:<key>`) like a secret's.
  `
CREATE TABLE agents (
  id               text PRIMARY KEY,          -- agt_<24 hex>
  name             text NOT NULL UNIQUE,
  command          text,
  required_secrets text NOT NULL DEFAULT '[]', -- JSON array of env keys
  sandbox_id       text REFERENCES sandboxes(id) ON DELETE SET NULL,
  created_at       text NOT NULL,
  updated_at       text NOT NULL
);
CREATE INDEX agents_sandbox ON agents(sandbox_id);
CREATE TABLE agent_secrets (
  agent_id     text NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  key          text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('provider', 'plain')),
  secret_id    text REFERENCES secrets(id) ON DELETE CASCADE,
  value_enc    bytea,
  data_key_enc bytea,
  key_id       text,
  created_at   text NOT NULL,
  updated_at   text NOT NULL,
  PRIMARY KEY (agent_id, key),
  CHECK ((kind = 'provider' AND secret_id IS NOT NULL AND value_enc IS NULL AND data_key_enc IS NULL AND key_id IS NULL)
      OR (kind = 'plain' AND secret_id IS NULL AND value_enc IS NOT NULL AND data_key_enc IS NOT NULL AND key_id IS NOT NULL))
);
CREATE INDEX agent_secrets_secret ON agent_secrets(secret_id);
`,
  // 006: keyset paging of the list endpoints (store/list-page.ts), as SQLite migration 010.
  `
CREATE INDEX sandboxes_seq ON sandboxes(seq);
CREATE INDEX secrets_created ON secrets(created_at, id);
`,
  // 007: sandbox expiry and one live sandbox per name (SQLite migration 011).
  `
ALTER TABLE sandboxes ADD COLUMN expires_at text;
CREATE INDEX sandboxes_name ON sandboxes(name);
CREATE INDEX sandboxes_expires ON sandboxes(expires_at) WHERE expires_at IS NOT NULL;
`,
];
