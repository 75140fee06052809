import type { Command } from 'commander';
import { action } from '../cli/action.js';
import { withConnection, type ConnectionFlags } from '../cli/connection.js';
import { DEFAULT_AGENT_FILE, deployAgentFile } from './agents-command.js';

/** `credproxy deploy [FILE]`: register the agent in ./credproxy.yaml (docs/contract.md#agent-cli). */
export function registerDeployCommand(program: Command): void {
  withConnection(program.command('deploy'))
    .description(`register or update the agent described in an agent file (default ./${DEFAULT_AGENT_FILE})`)
    .argument('[file]', 'agent file with name, command and secrets', DEFAULT_AGENT_FILE)
    .option('--json', 'print the agent as JSON')
    .action(action((out, file: string, flags: ConnectionFlags & { json?: boolean }) => deployAgentFile(out, file, flags)));
}
