import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { openDatabase } from '../store/db.js';
import { EventsRepository, flatRowCount, type FlatEventRows } from '../store/events.js';
import { deleteInBatches } from './retention.js';

/**
 * Entry of the audit writer thread (started by WorkerAuditSink): its own connection to the
 * daemon's database, applying the host's requests one at a time in the order they were posted.
 * A retention sweep runs here too, in small batches, with the inserts posted meanwhile written
 * between them: it never takes the proxy's thread, and holds the write lock ≈ 1–3 ms at a time.
 */

/** Given to the Worker as workerData. */
export interface WriterData {
  /** The database file; the daemon has opened and migrated it already. */
  path: string;
}

/** Host → writer. */
export type WriterRequest =
  | { op: 'insert'; values: FlatEventRows }
  | { op: 'touch'; secretIds: string[]; ts: string }
  /** Delete rows with `ts` before `before` (RFC 3339); `batchRows` per statement. */
  | { op: 'retain'; before: string; batchRows?: number | undefined }
  | { op: 'close' };

/** The driver's code and message only: never a row, which names hosts and paths. */
export interface WriterError {
  code?: string | undefined;
  message: string;
}

/**
 * Writer → host: `ready` once the connection is open; one `insert` per insert request (with
 * `err` when its transaction failed); `touch` only when an update failed; one `retain` per
 * retain request, once its sweep has ended.
 */
export type WriterReply =
  | { op: 'ready' }
  | { op: 'insert'; count: number; err?: WriterError }
  | { op: 'touch'; count: number; err: WriterError }
  | { op: 'retain'; deleted: number; err?: WriterError };

if (parentPort === null) throw new Error('writer-worker runs only as a worker thread');
const port: MessagePort = parentPort;

const db = openDatabase((workerData as WriterData).path, { migrate: false });
const events = new EventsRepository(db);
/** The sweep in progress, if any; 'close' ends it after its current statement. */
let sweep: Promise<void> | undefined;
let closing = false;

port.on('message', (request: WriterRequest) => {
  switch (request.op) {
    case 'insert':
      reply({ op: 'insert', count: flatRowCount(request.values), err: attempt(() => events.insertFlat(request.values)) });
      break;
    case 'touch': {
      const err = attempt(() => events.touchLastUsed(request.secretIds, request.ts));
      if (err) reply({ op: 'touch', count: request.secretIds.length, err });
      break;
    }
    case 'retain':
      sweep = deleteInBatches(events, request.before, { batchRows: request.batchRows, stopped: () => closing })
        .then(
          (deleted) => reply({ op: 'retain', deleted }),
          (err: unknown) => reply({ op: 'retain', deleted: 0, err: describe(err) }),
        )
        .finally(() => {
          sweep = undefined;
        });
      break;
    case 'close':
      // Everything posted before 'close' has been applied (messages arrive in order), bar a sweep.
      closing = true;
      void (sweep ?? Promise.resolve()).then(() => {
        db.close();
        port.close();
      });
      break;
  }
});
reply({ op: 'ready' });

function attempt(write: () => void): WriterError | undefined {
  try {
    write();
    return undefined;
  } catch (err) {
    return describe(err);
  }
}

function describe(err: unknown): WriterError {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === 'string' ? e.code : undefined, message: String(e?.message ?? err) };
}

function reply(message: WriterReply): void {
  port.postMessage(message);
}
