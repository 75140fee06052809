/** Exit codes: 0 ok, 1 the operation failed, 2 the command line or configuration is wrong. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * A failure the CLI reports as `✗ message`, followed by `hints` (plain lines, e.g. the
 * command to run next), then exits with `exitCode`.
 */
export class CliError extends Error {
  readonly code = 'cli_error';
  readonly exitCode: number;
  readonly hints: readonly string[];

  constructor(message: string, options: { exitCode?: number; hints?: readonly string[] } = {}) {
    super(message);
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
    this.hints = options.hints ?? [];
  }
}

/** A usage mistake (exit 2). */
export function usageError(message: string, hints?: readonly string[]): CliError {
  return new CliError(message, { exitCode: EXIT_USAGE, hints });
}
