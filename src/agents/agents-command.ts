import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AgentFileError, parseAgentFile } from './agent-file.js';
import { action } from '../cli/action.js';
import { usageError } from '../cli/cli-error.js';
import { connect, withConnection, type ConnectionFlags } from '../cli/connection.js';
import type { Output } from '../cli/output.js';
import { confirm } from '../cli/prompt.js';
import { agentNotFound } from './secrets-command.js';

/** The agent file `deploy` reads when none is named. */
export const DEFAULT_AGENT_FILE = 'credproxy.yaml';

interface JsonFlags extends ConnectionFlags {
  json?: boolean;
}

interface DeleteFlags extends ConnectionFlags {
  yes?: boolean;
}

/** `credproxy agents create|list|get|delete`. */
export function registerAgentsCommands(program: Command): void {
  const agents = program.command('agents').description('register and manage agents (name, command, required secrets)');

  withConnection(agents.command('create'))
    .description('register or update an agent from an agent file (name, command, secrets)')
    .argument('<file>', 'agent file, e.g. credproxy.yaml')
    .option('--json', 'print the agent as JSON')
    .action(action((out, file: string, flags: JsonFlags) => deployAgentFile(out, file, flags)));

  withConnection(agents.command('list')).description('list registered agents').option('--json', 'print JSON').action(action(listAgents));

  withConnection(agents.command('get'))
    .description('show one agent: command, required secrets and which keys are set')
    .argument('<agent>', 'agent name or id')
    .option('--json', 'print JSON')
    .action(action(getAgent));

  withConnection(agents.command('delete'))
    .description('delete an agent, its secrets and its sandbox')
    .argument('<agent>', 'agent name or id')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(action(deleteAgent));
}

/**
 * Registers the agent in `file`, then reminds the person of required secrets still unset,
 * one `credproxy secrets set` line each (docs/contract.md#agent-cli, deploy).
 */
export async function deployAgentFile(out: Output, file: string, flags: JsonFlags): Promise<void> {
  const { definition, unknownKeys } = readAgentFile(file);
  if (unknownKeys.length > 0) out.note(`! Ignoring unknown key(s) in ${file}: ${unknownKeys.join(', ')}`);
  const client = connect(flags);
  const existed = await client.getAgent(definition.name).then(
    () => true,
    () => false,
  );
  const agent = await client.putAgent(definition.name, definition);
  if (flags.json) {
    out.json(agent);
    return;
  }
  out.success(`${existed ? 'Updated' : 'Registered'} agent '${agent.name}'`);
  const set = new Set(agent.secrets.map((s) => s.key));
  const missing = agent.required_secrets.filter((k) => !set.has(k));
  if (missing.length > 0) {
    out.line();
    out.line('Set your secrets before running:');
    for (const key of missing) out.line(`  credproxy secrets set ${agent.name} ${key}=...`);
  }
  out.line();
  out.line(`Run it with: credproxy run ${agent.name}${agent.command ? '' : ' -- <command>'}`);
}

function readAgentFile(file: string): ReturnType<typeof parseAgentFile> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`Cannot read agent file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    return parseAgentFile(text, file);
  } catch (err) {
    if (err instanceof AgentFileError) throw usageError(err.message);
    throw err;
  }
}

async function listAgents(out: Output, flags: JsonFlags): Promise<void> {
  const agents = await connect(flags).listAgents();
  if (flags.json) {
    out.json(agents);
    return;
  }
  if (agents.length === 0) {
    out.line('No agents registered');
    out.line(`Register one with: credproxy deploy [${DEFAULT_AGENT_FILE}]  or  credproxy secrets set <agent> KEY=VALUE`);
    return;
  }
  out.table(
    ['Name', 'Secrets', 'Missing', 'Command'],
    agents.map((a) => {
      const set = new Set(a.secrets.map((s) => s.key));
      const missing = a.required_secrets.filter((k) => !set.has(k));
      return [a.name, String(a.secrets.length), missing.join(', ') || '-', a.command ?? '-'];
    }),
  );
}

async function getAgent(out: Output, agent: string, flags: JsonFlags): Promise<void> {
  const info = await connect(flags).getAgent(agent).catch(agentNotFound(agent));
  if (flags.json) {
    out.json(info);
    return;
  }
  const set = new Set(info.secrets.map((s) => s.key));
  out.line(`Agent '${info.name}' (${info.id})`);
  out.line(`  Command:          ${info.command ?? '-'}`);
  out.line(`  Required secrets: ${info.required_secrets.join(', ') || '-'}`);
  out.line(`  Missing:          ${info.required_secrets.filter((k) => !set.has(k)).join(', ') || '-'}`);
  out.line(`  Secrets:          ${info.secrets.map((s) => `${s.key} (${s.kind === 'provider' ? 'proxied' : 'plain'})`).join(', ') || '-'}`);
  out.line(`  Sandbox:          ${info.sandbox_id ?? '-'}`);
}

async function deleteAgent(out: Output, agent: string, flags: DeleteFlags): Promise<void> {
  if (!flags.yes && !(await confirm(`Delete agent '${agent}' with its secrets and sandbox?`))) {
    out.line('Cancelled');
    return;
  }
  await connect(flags).deleteAgent(agent).catch(agentNotFound(agent));
  out.success(`Deleted agent '${agent}'`);
}
