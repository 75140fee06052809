import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What one harness started, stopped by its one `close()` in the reverse order it was started:
 * after a failed start (`starting`), at the end of a test, or twice (later calls wait for the
 * first). A step that throws does not keep the others from running; its error is rethrown after.
 */
export class Teardown {
  readonly #steps: Array<() => unknown> = [];
  #closing: Promise<void> | undefined;

  add(step: () => unknown): void {
    this.#steps.push(step);
  }

  close(): Promise<void> {
    return (this.#closing ??= this.#run());
  }

  async #run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'closing the harness');
  }
}

/** Runs `start` with a fresh Teardown; when it throws, whatever it had started is stopped before the error goes on. */
export async function starting<T>(start: (teardown: Teardown) => Promise<T>): Promise<T> {
  const teardown = new Teardown();
  try {
    return await start(teardown);
  } catch (err) {
    await teardown.close().catch(() => undefined);
    throw err;
  }
}

const made = new Set<string>();

/**
 * A fresh temporary directory, removed when the test process exits however it exits. Not
 * before: a daemon restarted on the same state (`dir` of the first) outlives the first's close.
 */
export function harnessDir(label: string): string {
  if (made.size === 0) process.once('exit', () => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const dir = mkdtempSync(join(tmpdir(), `credproxy-${label}-`));
  made.add(dir);
  return dir;
}
