import type { SandboxRuleRecord, SecretRuleRecord } from '../rules/source.js';

/**
 * The wire between a control plane and its sidecars. Every route is under /fleet/ on the control
 * plane's admin listener and authenticates the sidecar by its token (`Authorization: Bearer`).
 * Bundles travel sealed to the sidecar's public key (secrets/sealed-box.ts), sent in PUBLIC_KEY_HEADER.
 */
export const FLEET_PATHS = {
  /** Admin (API key): POST register → `{name, token}` once; GET list; DELETE /fleet/sidecars/:name revokes. */
  sidecars: '/fleet/sidecars',
  /** Sidecar: GET → sealed Bundle; `?sandbox=<id>` (repeatable) for just those sandboxes, `?secret=<id>` for one secret. */
  bundle: '/fleet/bundle',
  /** Sidecar: GET text/event-stream of ChangeEvent from `?after=<seq>`, with heartbeats. */
  changes: '/fleet/changes',
  /** Sidecar: POST an EventBatch from its outbox; answers `{accepted}`. */
  events: '/fleet/events',
} as const;

/** The sandbox metadata key that assigns a sandbox to a sidecar; only that sidecar receives it. */
export const SIDECAR_METADATA_KEY = 'credproxy_sidecar';

export const PUBLIC_KEY_HEADER = 'x-credproxy-sidecar-key';

/** One secret as a sidecar holds it: its rules and its real value (only ever inside a sealed bundle). */
export interface BundleSecret extends SecretRuleRecord {
  readonly value: string;
}

/** What the control plane sends a sidecar, opened. */
export interface Bundle {
  /** The change log position this bundle is current up to; the change stream resumes after it. */
  readonly seq: number;
  /** True for the whole bundle; false for an answer to `?sandbox=` (listed ids not in it are gone) or `?secret=`. */
  readonly complete: boolean;
  readonly sandboxes: readonly SandboxRuleRecord[];
  /** Every secret the sandboxes' live bindings name. */
  readonly secrets: readonly BundleSecret[];
}

/** One event of the change stream: `event: change`, data JSON. */
export interface ChangeEvent {
  readonly seq: number;
  readonly kind: 'sandbox' | 'secret' | 'sidecar';
  readonly subjectId: string;
  /** The secret or sandbox was deleted: the sidecar forgets it at once, without a fetch. */
  readonly deleted?: true;
}

/** SSE event names on the change stream. */
export const STREAM_EVENTS = {
  change: 'change',
  heartbeat: 'heartbeat',
  /** The log no longer reaches back to the sidecar's seq: it must fetch its whole bundle again. */
  reset: 'reset',
} as const;

/**
 * A batch of audit/network rows from a sidecar's outbox. `instance` names the sidecar's local
 * database (it survives restarts, not a wiped data dir), and each row's first value is its id
 * there: (sidecar, instance, id) is the idempotency key, so a batch sent twice lands once.
 */
export interface EventBatch {
  readonly instance: string;
  /** Row after row: local id, then the FlatEventRows columns (store/events.ts INSERT_COLUMNS order). */
  readonly rows: readonly unknown[][];
}
