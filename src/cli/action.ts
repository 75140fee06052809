import { RequestError } from '../sdk/request-error.js';
import { CliError, EXIT_FAILURE } from './cli-error.js';
import { Output } from './output.js';

/**
 * Wraps a command's action: CliError and RequestError become `✗ message` (plus hints) on
 * stderr and an exit code; anything else is a bug and says so. Sets `process.exitCode` rather
 * than exiting, so pending output is flushed.
 */
export function action<A extends unknown[]>(run: (out: Output, ...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const out = new Output();
    try {
      await run(out, ...args);
    } catch (err) {
      process.exitCode = report(out, err);
    }
  };
}

function report(out: Output, err: unknown): number {
  if (err instanceof CliError) {
    out.error(err.message);
    for (const hint of err.hints) out.note(hint);
    return err.exitCode;
  }
  if (err instanceof RequestError) {
    if (err.status === 401) {
      out.error('Not authenticated: the admin API key was refused');
      out.note("Set CREDPROXY_API_KEY, or point --data-dir at the daemon's data directory.");
    } else {
      out.error(describe(err));
      if (err.code === 'network_error' || err.code === 'not_admin_api') {
        out.note('Point --url (or CREDPROXY_URL) at the admin listener: the "admin" address in serve\'s ready line.');
      }
    }
    return EXIT_FAILURE;
  }
  out.error(`unexpected error: ${(err as Error).message ?? String(err)}`);
  return EXIT_FAILURE;
}

/** The message, plus the agent API's `details` (`key`, `problem`) when it names them. */
function describe(err: RequestError): string {
  const { key, problem } = err.details ?? {};
  if (typeof problem !== 'string') return err.message;
  return `${err.message}: ${typeof key === 'string' ? `${key}: ` : ''}${problem}`;
}
