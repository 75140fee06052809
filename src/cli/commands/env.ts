import type { Command } from 'commander';
import { RequestError } from '../../sdk/request-error.js';
import { action } from '../action.js';
import { CliError } from '../cli-error.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';

/** Characters a POSIX shell never treats specially in a bare word. */
const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `credproxy env <sandbox-id>`: the sandbox's environment as shell-ready KEY=VALUE lines. */
export function registerEnvCommand(program: Command): void {
  withConnection(program.command('env'))
    .description('print a sandbox\'s environment as KEY=VALUE lines, then one `export` line: eval "$(credproxy env ID)" sets them for child processes')
    .argument('<sandbox-id>', 'sandbox id')
    .option('--export', 'prefix each line with `export `')
    .option('--json', 'print JSON')
    .action(
      action(async (out, id: string, flags: ConnectionFlags & { export?: boolean; json?: boolean }) => {
        const sandbox = await connect(flags)
          .getSandbox(id)
          .catch((err: unknown) => {
            if (err instanceof RequestError && err.status === 404) throw new CliError(`Sandbox '${id}' not found`);
            throw err;
          });
        if (flags.json) {
          out.json(sandbox.env);
          return;
        }
        const prefix = flags.export ? 'export ' : '';
        const keys = Object.keys(sandbox.env);
        for (const key of keys) out.line(`${prefix}${key}=${shellQuote(sandbox.env[key]!)}`);
        // Every variable line stays KEY=VALUE (docs/contract.md#cli); this last line makes `eval "$(credproxy env ID)"`
        // hand them to child processes too, as ssh-agent's output does.
        if (!flags.export && keys.length > 0) out.line(`export ${keys.join(' ')}`);
      }),
    );
}

/** The value as one shell word: bare when safe, else single-quoted with `'` as `'\''`. */
export function shellQuote(value: string): string {
  if (SHELL_SAFE.test(value)) return value;
  return `'${value.replaceAll("'", "'\\''")}'`;
}
