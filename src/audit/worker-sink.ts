import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/logger.js';
import { flattenEventRows, type EventRow } from '../store/events.js';
import type { AuditSink, AuditSinkFailure } from './queue.js';
import type { RetentionTarget } from './retention.js';
import type { WriterData, WriterError, WriterReply, WriterRequest } from './writer-worker.js';

export interface WorkerAuditSinkOptions {
  /** The database file, already opened and migrated by the daemon. */
  path: string;
  logger: Logger;
}

/**
 * An AuditSink that writes on a worker thread with its own SQLite connection, so the proxy's
 * thread only pays for posting a batch (flattened, then structured clone) instead of the inserts.
 * Batches are written in the order they were handed over. If the writer dies, that is logged once
 * and every row from then on is dropped and counted; the daemon keeps serving. Retention sweeps
 * run there too (RetentionTarget).
 */
export class WorkerAuditSink implements AuditSink, RetentionTarget {
  /** Resolves once the writer has its connection open; rejects when it could not start. */
  readonly ready: Promise<void>;
  readonly #worker: Worker;
  readonly #logger: Logger;
  #pending = 0;
  #alive = true;
  #closing: Promise<void> | undefined;
  #crash: WriterError | undefined;
  #onFailure: (failure: AuditSinkFailure) => void = () => {};
  #started: (() => void) | undefined;
  /** Sweeps posted and not answered yet, oldest first: the writer answers them in order. */
  readonly #sweeps: Array<{ resolve(deleted: number): void; reject(err: Error): void }> = [];

  constructor(options: WorkerAuditSinkOptions) {
    this.#logger = options.logger;
    this.#worker = spawnWriter({ path: options.path });
    this.ready = new Promise<void>((resolve, reject) => {
      this.#started = resolve;
      this.#worker.once('exit', () => reject(new Error(`audit writer could not start: ${this.#crash?.message ?? 'exited'}`)));
    });
    // Whoever awaits `ready` sees the rejection; an unawaited one must not crash the process.
    this.ready.catch(() => {});
    this.#worker.on('message', (reply: WriterReply) => this.#settled(reply));
    this.#worker.on('error', (err) => {
      const e = err as { code?: unknown; message?: unknown };
      this.#crash = { code: typeof e?.code === 'string' ? e.code : undefined, message: String(e?.message ?? err) };
    });
    this.#worker.on('exit', (code) => this.#exited(code));
  }

  /** False once the writer thread has exited (crashed, or closed): rows are then dropped. */
  get alive(): boolean {
    return this.#alive;
  }

  get pending(): number {
    return this.#pending;
  }

  insertBatch(rows: readonly EventRow[]): void {
    if (!this.#alive) {
      this.#onFailure({ op: 'insert', count: rows.length });
      return;
    }
    this.#pending += rows.length;
    this.#post({ op: 'insert', values: flattenEventRows(rows) });
  }

  touchLastUsed(secretIds: Iterable<string>, ts: string): void {
    if (this.#alive) this.#post({ op: 'touch', secretIds: [...secretIds], ts });
  }

  /** Runs a retention sweep on the writer thread; rejects when it failed or the writer is gone. */
  deleteOlderThan(isoTs: string, batchRows?: number): Promise<number> {
    if (!this.#alive) return Promise.reject(new Error('the audit writer has stopped'));
    return new Promise((resolve, reject) => {
      this.#sweeps.push({ resolve, reject });
      // Someone awaits the answer: the writer keeps the process alive until it comes.
      this.#worker.ref();
      this.#post({ op: 'retain', before: isoTs, batchRows });
    });
  }

  setFailureHandler(handler: (failure: AuditSinkFailure) => void): void {
    this.#onFailure = handler;
  }

  /**
   * Resolves once the writer has written everything handed to it and closed its connection (or
   * at once when it is already gone). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      if (!this.#alive) return resolve();
      this.#worker.once('exit', () => resolve());
      // Keeps the process alive until the writer is done, whatever else is left running.
      this.#worker.ref();
      this.#post({ op: 'close' });
    });
    return this.#closing;
  }

  #post(request: WriterRequest): void {
    this.#worker.postMessage(request);
  }

  #settled(reply: WriterReply): void {
    if (reply.op === 'ready') {
      // Once started, like the queue's timer, the writer alone never keeps the process alive;
      // close() refs it again until everything is written. A close() that came first (a start-up
      // that failed early) keeps its ref, or the process would exit before the writer is done.
      if (this.#closing === undefined) this.#worker.unref();
      this.#started?.();
      return;
    }
    if (reply.op === 'retain') {
      const sweep = this.#sweeps.shift();
      if (this.#sweeps.length === 0 && this.#closing === undefined) this.#worker.unref();
      if (reply.err) sweep?.reject(Object.assign(new Error(reply.err.message), { code: reply.err.code }));
      else sweep?.resolve(reply.deleted);
      return;
    }
    if (reply.op === 'insert') this.#pending -= reply.count;
    if (reply.err) this.#onFailure({ op: reply.op, count: reply.count, err: reply.err });
  }

  #exited(code: number): void {
    this.#alive = false;
    for (const sweep of this.#sweeps.splice(0)) sweep.reject(new Error('the audit writer has stopped'));
    const lost = this.#pending;
    this.#pending = 0;
    // After close() the writer exits 0 with nothing pending; anything else is a crash.
    if (this.#closing !== undefined && code === 0 && lost === 0) return;
    this.#logger.error({ err: this.#crash ?? { message: `exited with code ${code}` }, lost }, 'audit writer stopped; audit rows are dropped from now on');
    if (lost > 0) this.#onFailure({ op: 'insert', count: lost });
  }
}

/**
 * Starts the writer from the file next to this one: writer-worker.js when compiled (dist/) or
 * bundled (the bundle ships it alongside), writer-worker.ts under tsx. Node 20 does not give a
 * worker the `--import tsx` hooks of its parent, so the TypeScript entry registers them first.
 */
function spawnWriter(workerData: WriterData): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./writer-worker.js', import.meta.url), { workerData });
  }
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL('./writer-worker.ts', import.meta.url).href);
  return new Worker(`import(${tsx}).then((tsx) => { tsx.register(); return import(${entry}); });`, { eval: true, workerData });
}
