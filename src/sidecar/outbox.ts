import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Statement } from 'better-sqlite3';
import type { Logger } from '../log/logger.js';
import { readOrCreateKeyFile } from '../secrets/key-files.js';
import type { Database } from '../store/db.js';
import { INSERT_COLUMNS } from '../store/events.js';
import type { ControlClient } from './control-client.js';

/** Rows per shipped batch: ≈ 150 KB of JSON, well under the admin API's 1 MiB body limit. */
const BATCH_ROWS = 500;

/**
 * Ships the sidecar's audit and network rows to the control plane. The local events table is
 * the outbox: the audit writer fills it as in the single daemon, so a row survives a crash once
 * written; the shipper sends the oldest rows with their local ids, and deletes them only after
 * the control plane acknowledged (at least once; the control plane drops repeats by id).
 */
export class OutboxShipper {
  readonly #client: ControlClient;
  readonly #logger: Logger;
  readonly #instance: string;
  readonly #oldest: Statement<[number]>;
  readonly #deleteUpTo: Statement<[number]>;
  readonly #pending: Statement<[]>;
  readonly #timer: NodeJS.Timeout;
  #shipping: Promise<void> | undefined;
  #failing = false;

  constructor(options: { db: Database; dataDir: string; client: ControlClient; logger: Logger; intervalMs: number }) {
    this.#client = options.client;
    this.#logger = options.logger;
    // Names this database: ids restart only with a new data dir, which gets a new instance.
    this.#instance = readOrCreateKeyFile(join(options.dataDir, 'outbox-instance'), () => randomBytes(12).toString('base64url'));
    this.#oldest = options.db.prepare(`SELECT id, ${INSERT_COLUMNS.join(', ')} FROM event_rows ORDER BY id LIMIT ?`).raw(true);
    this.#deleteUpTo = options.db.prepare('DELETE FROM events WHERE id <= ?');
    this.#pending = options.db.prepare('SELECT count(*) FROM events').pluck();
    this.#timer = setInterval(() => void this.ship(), options.intervalMs);
    this.#timer.unref();
  }

  /** Rows written locally and not yet acknowledged. */
  get pending(): number {
    return this.#pending.get() as number;
  }

  /** Ships everything in the outbox now (waits for a run in progress); resolves when done or failed. */
  ship(): Promise<void> {
    return (this.#shipping ??= this.#run().finally(() => {
      this.#shipping = undefined;
    }));
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#shipping;
  }

  async #run(): Promise<void> {
    try {
      for (;;) {
        const rows = this.#oldest.all(BATCH_ROWS) as unknown[][];
        if (rows.length === 0) break;
        await this.#client.shipEvents({ instance: this.#instance, rows });
        this.#deleteUpTo.run(rows[rows.length - 1]![0] as number);
        if (rows.length < BATCH_ROWS) break;
      }
      if (this.#failing) this.#logger.info('audit outbox is shipping again');
      this.#failing = false;
    } catch (err) {
      // The rows stay in the outbox for the next run; say so once, not every second.
      if (!this.#failing) this.#logger.warn({ err: { message: (err as Error).message } }, 'audit outbox could not ship; keeping rows locally');
      this.#failing = true;
    }
  }
}
