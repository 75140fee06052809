import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { EXIT_USAGE } from './cli-error.js';
import { registerAgentsCommands } from '../agents/agents-command.js';
import { registerCaCommand } from './commands/ca.js';
import { registerDeployCommand } from '../agents/deploy-command.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerEnvCommand } from './commands/env.js';
import { registerHealthcheckCommand } from './commands/healthcheck.js';
import { registerIptablesCommand } from './commands/iptables.js';
import { registerRunCommand } from '../agents/run-command.js';
import { registerSandboxesCommands } from './commands/sandboxes.js';
import { registerServeCommand } from './commands/serve.js';
import { registerSecretsCommands } from '../agents/secrets-command.js';

/**
 * The `credproxy` program. Exit codes: 0 ok, 1 failure, 2 usage or configuration error
 * (docs/errors.md). No command loads the daemon until it runs (serve.ts).
 */
export function buildProgram(): Command {
  const program = new Command('credproxy')
    .description('Credential-injecting egress proxy for sandboxes: stand-in tokens in, real credentials out.')
    .version(VERSION)
    // Set before any subcommand exists: subcommands copy these settings when created.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  registerServeCommand(program);
  registerSecretsCommands(program);
  registerDeployCommand(program);
  registerAgentsCommands(program);
  registerRunCommand(program);
  registerEnvCommand(program);
  registerCaCommand(program);
  registerSandboxesCommands(program);
  registerIptablesCommand(program);
  registerHealthcheckCommand(program);
  registerDoctorCommand(program);
  return program;
}

// `credproxy env … | head -1`: once the reader is gone there is nobody left to tell.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // Commander already printed the message (or the help/version text).
  process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
}
