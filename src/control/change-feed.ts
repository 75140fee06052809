import pg from 'pg';
import type { Logger } from '../log/logger.js';
import { CHANGES_CHANNEL, changesAfter, type ChangeRecord, type PgPool } from '../store/postgres/index.js';

/** Largest page read from the change log at once. */
const PAGE = 1000;
const RECONNECT_MS = [100, 250, 500, 1000, 2000] as const;

export interface ChangeFeedOptions {
  readonly url: string;
  readonly pool: PgPool;
  readonly logger: Logger;
}

/**
 * One replica's view of the change log: a dedicated connection LISTENs on CHANGES_CHANNEL, and
 * each notification reads the log from the last seq seen, so a notification lost while the
 * connection was down costs nothing (the next read catches up) and every listener gets every
 * change once, in order. Replicas share nothing but the database.
 */
export class ChangeFeed {
  readonly #options: ChangeFeedOptions;
  readonly #listeners = new Set<(change: ChangeRecord) => void>();
  #client: pg.Client | undefined;
  #lastSeq = 0;
  #reading: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #attempt = 0;
  #retry: NodeJS.Timeout | undefined;

  constructor(options: ChangeFeedOptions) {
    this.#options = options;
  }

  /** Connects and LISTENs; changes already in the log are not replayed (streams replay their own). */
  async start(): Promise<void> {
    const { rows } = await this.#options.pool.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM changes');
    this.#lastSeq = Number(rows[0]?.seq ?? 0);
    await this.#connect();
  }

  /** Calls `listener` for each change committed after now. Returns the unsubscribe function. */
  subscribe(listener: (change: ChangeRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#listeners.clear();
    await this.#client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#options.url });
    client.on('notification', () => this.#read());
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    await client.connect();
    await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    this.#client = client;
    this.#attempt = 0;
    // Whatever was committed while no connection listened.
    this.#read();
  }

  #lost(client: pg.Client): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = undefined;
    this.#options.logger.warn('change feed lost its PostgreSQL connection; reconnecting');
    const retry = (): void => {
      const delay = RECONNECT_MS[Math.min(this.#attempt++, RECONNECT_MS.length - 1)];
      this.#retry = setTimeout(() => {
        this.#connect().catch(() => {
          if (!this.#closed) retry();
        });
      }, delay);
    };
    retry();
  }

  /** Reads the log past lastSeq; a notification during a read makes it read again after. */
  #read(): void {
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        for (;;) {
          const page = await changesAfter(this.#options.pool, this.#lastSeq, PAGE);
          for (const change of page) {
            this.#lastSeq = change.seq;
            for (const listener of this.#listeners) listener(change);
          }
          if (page.length < PAGE) break;
        }
      } while (this.#again && !this.#closed);
    })()
      .catch((err: unknown) => this.#options.logger.warn({ err: { message: (err as Error).message } }, 'change feed read failed'))
      .finally(() => {
        this.#reading = undefined;
      });
  }
}
