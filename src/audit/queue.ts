import type { FrozenConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { EventRow } from '../store/events.js';

/** Where batches go: WorkerAuditSink in the daemon, EventsRepository (synchronous), or a fake in tests. */
export interface AuditSink {
  insertBatch(rows: readonly EventRow[]): void;
  touchLastUsed(secretIds: Iterable<string>, ts: string): void;
  /**
   * For a sink that writes on another thread: rows handed to insertBatch and not written yet.
   * They count toward `audit.queueSize` and the queue depth, so a slow disk bounds memory too.
   */
  readonly pending?: number;
  /** For a sink that writes on another thread: the queue's handler for writes that failed later. */
  setFailureHandler?(handler: (failure: AuditSinkFailure) => void): void;
}

/** A write that failed after the sink's call had returned. */
export interface AuditSinkFailure {
  op: 'insert' | 'touch';
  /** Rows (insert) or secrets (touch) not written. */
  count: number;
  /** The driver's code and message; absent when the sink has already logged why (a dead writer). */
  err?: { code?: string | undefined; message: string };
}

export interface AuditQueueOptions {
  /**
   * `audit.queueSize`: rows held before new ones are dropped; `audit.flushIntervalMs`: longest a
   * row waits before its batch is written.
   */
  config: { readonly audit: Pick<FrozenConfig['audit'], 'queueSize' | 'flushIntervalMs'> };
  logger: Logger;
  /**
   * Rows per transaction; reaching it schedules a flush at once. Default 100: with a synchronous
   * sink a batch blocks the event loop for its whole write (~10–15 µs a row), so 500 rows stalled
   * every request in flight by 5–11 ms, 100 rows by 1–1.5 ms, at the same cost per row. Handing a
   * batch to WorkerAuditSink costs ~1–3 µs a row (structured clone), ~0.1–0.3 ms per 100 rows.
   */
  batchSize?: number;
}

/**
 * Audit rows on their way to SQLite. `push` is the only call on the proxy's hot path: it appends
 * to an array and returns; it never blocks, never throws, and drops (and counts) a row when the
 * queue is full. Writes happen from a timer or a setImmediate, one transaction per batch, so a crash
 * loses at most one flush interval of rows.
 */
export class AuditQueue {
  readonly #sink: AuditSink;
  readonly #capacity: number;
  readonly #batchSize: number;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  #rows: EventRow[] = [];
  /** Secret id → latest epoch ms it was used, written once per batch (throttles last_used_at). */
  #used = new Map<string, number>();
  #immediate: NodeJS.Immediate | undefined;
  #dropped = 0;
  #closed = false;

  constructor(sink: AuditSink, options: AuditQueueOptions) {
    this.#sink = sink;
    this.#capacity = options.config.audit.queueSize;
    this.#batchSize = options.batchSize ?? 100;
    this.#logger = options.logger;
    sink.setFailureHandler?.((failure) => this.#failed(failure.op, failure.count, failure.err));
    this.#timer = setInterval(() => this.#drain(), options.config.audit.flushIntervalMs);
    this.#timer.unref();
  }

  /** Rows waiting to be written, here or in the sink (the `credproxy_audit_queue_depth` gauge). */
  get depth(): number {
    return this.#rows.length + (this.#sink.pending ?? 0);
  }

  /** Rows that never reached the database: queue full, a failed write, or pushed after close(). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues a row; false when it was dropped. */
  push(row: EventRow): boolean {
    if (this.#closed || this.depth >= this.#capacity) {
      this.#dropped++;
      return false;
    }
    this.#rows.push(row);
    if (this.#rows.length >= this.#batchSize && this.#immediate === undefined) {
      this.#immediate = setImmediate(() => this.#drain());
    }
    return true;
  }

  /** Records that a secret's stand-in was used at `ts` (epoch ms); lands with the next batch. */
  markUsed(secretId: string, ts: number): void {
    if (this.#closed) return;
    const seen = this.#used.get(secretId);
    if (seen === undefined || seen < ts) this.#used.set(secretId, ts);
  }

  /**
   * Stops the timer and hands every queued row to the sink at once (SIGTERM path); a sink that
   * writes on another thread then needs its own close awaited. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    while (this.#rows.length > 0) this.#writeBatch();
    this.#writeUsed();
  }

  /** Writes one batch, then yields to the event loop before the next so the proxy keeps serving. */
  #drain(): void {
    this.#immediate = undefined;
    if (this.#rows.length > 0) this.#writeBatch();
    if (this.#rows.length > 0) {
      this.#immediate = setImmediate(() => this.#drain());
      return;
    }
    this.#writeUsed();
  }

  #writeBatch(): void {
    let batch: EventRow[];
    if (this.#rows.length <= this.#batchSize) {
      batch = this.#rows;
      this.#rows = [];
    } else {
      batch = this.#rows.splice(0, this.#batchSize);
    }
    try {
      this.#sink.insertBatch(batch);
    } catch (err) {
      this.#failed('insert', batch.length, err);
    }
  }

  #writeUsed(): void {
    if (this.#used.size === 0) return;
    const used = this.#used;
    this.#used = new Map();
    let latest = 0;
    for (const ts of used.values()) if (ts > latest) latest = ts;
    try {
      this.#sink.touchLastUsed(used.keys(), new Date(latest).toISOString());
    } catch (err) {
      this.#failed('touch', used.size, err);
    }
  }

  /** Counts lost rows; logs the error when there is one (a dead writer's later batches come without). */
  #failed(op: AuditSinkFailure['op'], count: number, err: unknown): void {
    if (op === 'insert') this.#dropped += count;
    if (err === undefined) return;
    // Only the driver's code and message: never the rows, which name hosts and paths.
    const e = err as { code?: unknown; message?: unknown };
    const msg = op === 'insert' ? 'audit batch write failed; rows dropped' : 'last_used_at update failed';
    this.#logger.error({ err: { code: e?.code, message: String(e?.message ?? err) }, count }, msg);
  }
}
