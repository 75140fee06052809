/**
 * Rebuilds `events` compact: ≈ 285 → ≈ 110 bytes a row with its two indexes (bench/control-plane.ts).
 * A row repeated the sandbox's and the secret's uuids (36 bytes each, again in each index) and the
 * sandbox's name; now it holds small integer refs to `audit_sandboxes` and `audit_secrets`, one
 * row per sandbox or secret ever audited, never deleted (they outlive the sandbox and the secret,
 * as the audit must). `ts` is epoch ms (6 bytes, not 24 of text), `kind` 0 (request) or 1
 * (connection), which SQLite stores in no bytes at all. The view `event_rows` shows the rows with
 * the columns the audit queue writes (store/events.ts INSERT_COLUMNS), `ts` in epoch ms. Ids and
 * the id counter are carried over, as in migration 005.
 */
export const MIGRATION_009_COMPACT_EVENTS = `
CREATE TABLE audit_sandboxes (
  ref  INTEGER PRIMARY KEY,
  id   TEXT NOT NULL UNIQUE,
  name TEXT
);
CREATE TABLE audit_secrets (
  ref INTEGER PRIMARY KEY,
  id  TEXT NOT NULL UNIQUE
);
INSERT INTO audit_sandboxes (id, name)
  SELECT sandbox_id, max(sandbox_name) FROM events WHERE sandbox_id IS NOT NULL GROUP BY sandbox_id;
INSERT INTO audit_secrets (id) SELECT DISTINCT secret_id FROM events WHERE secret_id IS NOT NULL;
CREATE TABLE events_new (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  kind            INTEGER NOT NULL CHECK (kind = 0 OR kind = 1), -- 0 request, 1 connection
  ts              INTEGER NOT NULL,                               -- epoch ms
  sandbox_ref     INTEGER,                                        -- audit_sandboxes.ref
  secret_ref      INTEGER,                                        -- audit_secrets.ref
  host            TEXT,
  method          TEXT,
  path            TEXT,
  status          INTEGER,
  upstream_status INTEGER,
  latency_ms      INTEGER,
  error_code      TEXT,
  dst_ip          TEXT,
  dst_port        INTEGER,
  verdict         TEXT CHECK (verdict = 'allowed' OR verdict = 'blocked' OR verdict = 'failed'),
  match_rule      TEXT,
  bytes_sent      INTEGER,
  bytes_recv      INTEGER,
  request_id      TEXT
);
INSERT INTO events_new
  SELECT e.id, CASE e.kind WHEN 'request' THEN 0 ELSE 1 END, CAST(round(unixepoch(e.ts, 'subsec') * 1000) AS INTEGER),
    s.ref, k.ref, e.host, e.method, e.path, e.status, e.upstream_status, e.latency_ms, e.error_code, e.dst_ip,
    e.dst_port, e.verdict, e.match_rule, e.bytes_sent, e.bytes_recv, e.request_id
  FROM events e
  LEFT JOIN audit_sandboxes s ON s.id = e.sandbox_id
  LEFT JOIN audit_secrets k ON k.id = e.secret_id;
DELETE FROM sqlite_sequence WHERE name = 'events_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'events_new', seq FROM sqlite_sequence WHERE name = 'events';
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_secret_requests ON events(secret_ref, id) WHERE kind = 0;
CREATE INDEX events_sandbox ON events(sandbox_ref, id);
CREATE VIEW event_rows AS
  SELECT e.id, CASE e.kind WHEN 0 THEN 'request' ELSE 'connection' END AS kind, e.ts,
    s.id AS sandbox_id, s.name AS sandbox_name, k.id AS secret_id, e.host, e.method, e.path, e.status,
    e.upstream_status, e.latency_ms, e.error_code, e.dst_ip, e.dst_port, e.verdict, e.match_rule, e.bytes_sent,
    e.bytes_recv, e.request_id, e.kind AS kind_code, e.sandbox_ref, e.secret_ref
  FROM events e
  LEFT JOIN audit_sandboxes s ON s.ref = e.sandbox_ref
  LEFT JOIN audit_secrets k ON k.ref = e.secret_ref;
`;
