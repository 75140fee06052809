import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Command } from 'commander';
import type { CredproxyClient } from '../sdk/client.js';
import { RequestError } from '../sdk/request-error.js';
import { action } from '../cli/action.js';
import { CliError, usageError } from '../cli/cli-error.js';
import { connect, withConnection, type ConnectionFlags } from '../cli/connection.js';
import type { Output } from '../cli/output.js';
import { agentNotFound } from './secrets-command.js';

/** Daemon credentials the agent must not inherit from the operator's shell. */
const WITHHELD_ENV = ['CREDPROXY_API_KEY', 'CREDPROXY_MASTER_KEY'];
/** What a shell answers for a command it cannot start. */
const EXIT_NOT_FOUND = 127;

const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** `credproxy run <agent> [-- command…]`: start the agent locally with its sandbox environment. */
export function registerRunCommand(program: Command): void {
  withConnection(program.command('run'))
    .description('run an agent locally with its environment: stand-ins for proxied keys, plain values, HTTPS_PROXY and CA trust')
    .argument('<agent>', 'agent name or id')
    .argument('[command...]', "command to run instead of the agent's own (put it after --)")
    .option('--sidecar <name>', "fleet: the sidecar that serves the agent's sandbox (its proxy is this node's); taken on the first run")
    .action(action(runAgent));
}

async function runAgent(out: Output, agent: string, argv: string[], flags: ConnectionFlags & { sidecar?: string }): Promise<void> {
  const client = connect(flags);
  const shellCommand = argv.length > 0 ? undefined : await agentCommand(client, agent);
  const { env } = await client.runAgent(agent, flags.sidecar === undefined ? {} : { sidecar: flags.sidecar }).catch((err: unknown) => {
    const missing = err instanceof RequestError ? err.details?.missing : undefined;
    if (Array.isArray(missing) && missing.length > 0) {
      throw new CliError(`Missing required secret(s): ${missing.join(', ')}`, {
        hints: ['Set them with:', `  credproxy secrets set ${agent} ${missing.map((k) => `${String(k)}=...`).join(' ')}`],
      });
    }
    return agentNotFound(agent)(err);
  });

  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of WITHHELD_ENV) delete childEnv[name];
  // An explicit argv runs as given; the agent file's command is a shell line, as in docs/contract.md#agent-file.
  const child =
    shellCommand === undefined
      ? spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env: childEnv })
      : spawn(shellCommand, { shell: true, stdio: 'inherit', env: childEnv });
  process.exitCode = await waitForExit(child, out, argv[0] ?? shellCommand!);
}

async function agentCommand(client: CredproxyClient, agent: string): Promise<string> {
  const info = await client.getAgent(agent).catch(agentNotFound(agent));
  if (!info.command) {
    throw usageError(`Agent '${agent}' has no command`, [
      `Give one after --, e.g.  credproxy run ${agent} -- node agent.js`,
      'or add `command:` to its agent file and run credproxy deploy.',
    ]);
  }
  return info.command;
}

/** Forwards termination signals to the child and resolves with its exit code (128+n when killed by signal n). */
function waitForExit(child: ChildProcess, out: Output, name: string): Promise<number> {
  const forward = (signal: NodeJS.Signals) => {
    child.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  return new Promise((resolve) => {
    const done = (code: number) => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      resolve(code);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      out.error(`Cannot start '${name}': ${err.code ?? err.message}`);
      done(EXIT_NOT_FOUND);
    });
    child.once('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}
