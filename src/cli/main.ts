import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE } from './cli-error.js';
import { registerAgentsCommands } from './commands/agents.js';
import { registerCaCommand } from './commands/ca.js';
import { registerDeployCommand } from './commands/deploy.js';
import { registerEnvCommand } from './commands/env.js';
import { registerIptablesCommand } from './commands/iptables.js';
import { registerRunCommand } from './commands/run.js';
import { registerSandboxesCommands } from './commands/sandboxes.js';
import { registerSecretsCommands } from './commands/secrets.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/**
 * The `credproxy` program. Exit codes: 0 ok, 1 failure, 2 usage or configuration error.
 * `serve` pulls in the whole daemon (fastify, node-forge, SQLite: about 1 s of start-up), so it
 * is loaded only when the command line can need it: `serve`, `help`, or no command at all.
 */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('credproxy')
    .description('Credential-injecting egress proxy for sandboxes: stand-in tokens in, real credentials out.')
    .version(version)
    // Set before any subcommand exists: subcommands copy these settings when created.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  if (needsServe(argv)) {
    const { registerServeCommand } = await import('./commands/serve.js');
    registerServeCommand(program);
  }
  registerSecretsCommands(program);
  registerDeployCommand(program);
  registerAgentsCommands(program);
  registerRunCommand(program);
  registerEnvCommand(program);
  registerCaCommand(program);
  registerSandboxesCommands(program);
  registerIptablesCommand(program);
  return program;
}

function needsServe(argv: readonly string[]): boolean {
  const command = argv.slice(2).find((arg) => !arg.startsWith('-'));
  return command === undefined || command === 'serve' || command === 'help';
}

try {
  await (await buildProgram(process.argv)).parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // Commander already printed the message (or the help/version text).
  process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
}
