import type { PgClient } from './db.js';

/** The NOTIFY channel every control-plane replica LISTENs on; the payload is the change's seq. */
export const CHANGES_CHANNEL = 'credproxy_changes';

/** Advisory lock key that orders appends to the change log ('cprc'). */
const CHANGE_LOG_LOCK = 0x63707263;

export type ChangeKind = 'sandbox' | 'secret' | 'sidecar';

/** One row of the change log, as sidecars receive it. */
export interface ChangeRecord {
  readonly seq: number;
  readonly kind: ChangeKind;
  /** The sandbox id, secret id or sidecar name. */
  readonly subjectId: string;
  /** True when the subject was deleted: nothing to fetch, only to forget. */
  readonly deleted: boolean;
  /** The one sidecar a sandbox or sidecar change concerns (null: none); null for secret changes, which any sidecar may hold. */
  readonly sidecar: string | null;
}

/**
 * Appends a change inside the caller's transaction and notifies every replica; PostgreSQL
 * delivers the NOTIFY only when the transaction commits, so nobody hears of a rolled-back change.
 */
export async function recordChange(client: PgClient, kind: ChangeKind, subjectId: string, sidecar: string | null, deleted = false): Promise<void> {
  // Readers follow the log by `seq > last seen`, so seqs must become visible in order: without
  // this lock a transaction holding seq 10 could commit after one holding 11, and 10 would be
  // skipped for good. Held from here to the commit, which is the caller's next step.
  await client.query('SELECT pg_advisory_xact_lock($1)', [CHANGE_LOG_LOCK]);
  await client.query(
    `WITH c AS (INSERT INTO changes (kind, subject_id, sidecar, deleted) VALUES ($1, $2, $3, $4) RETURNING seq)
     SELECT pg_notify('${CHANGES_CHANNEL}', seq::text) FROM c`,
    [kind, subjectId, sidecar, deleted],
  );
}

interface ChangeRow {
  seq: string;
  kind: ChangeKind;
  subject_id: string;
  sidecar: string | null;
  deleted: boolean;
}

/** Changes after `seq` (exclusive), oldest first, at most `limit`. */
export async function changesAfter(client: Pick<PgClient, 'query'>, seq: number, limit: number): Promise<ChangeRecord[]> {
  const { rows } = await client.query<ChangeRow>('SELECT seq, kind, subject_id, sidecar, deleted FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2', [
    seq,
    limit,
  ]);
  return rows.map((r) => ({ seq: Number(r.seq), kind: r.kind, subjectId: r.subject_id, sidecar: r.sidecar, deleted: r.deleted }));
}

/** The newest seq (0 for none): a bundle read in the same snapshot is current up to it. */
export async function latestChangeSeq(client: Pick<PgClient, 'query'>): Promise<number> {
  const { rows } = await client.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM changes');
  return Number(rows[0]?.seq ?? 0);
}
