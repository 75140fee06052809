import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { RequestError } from '../sdk/request-error.js';
import type { AgentInfo } from '../sdk/types.js';
import { action } from '../cli/action.js';
import { CliError, usageError } from '../cli/cli-error.js';
import { connect, withConnection, type ConnectionFlags } from '../cli/connection.js';
import { parseEnvFile } from '../cli/env-file.js';
import type { Output } from '../cli/output.js';
import { confirm, readHidden, readLine } from '../cli/prompt.js';

interface SetFlags extends ConnectionFlags {
  envFile?: string;
}

interface ListFlags extends ConnectionFlags {
  json?: boolean;
}

interface DeleteFlags extends ConnectionFlags {
  yes?: boolean;
}

/** `credproxy secrets set|list|delete`: the agent-secrets workflow (docs/contract.md#agent-cli). */
export function registerSecretsCommands(program: Command): void {
  const secrets = program.command('secrets').description("manage an agent's secrets (values are write-only)");

  withConnection(secrets.command('set'))
    .description('set secrets for an agent (creates the agent on first use); provider keys such as ANTHROPIC_API_KEY are proxied')
    .argument('<agent>', 'agent name or id')
    .argument('[key-values...]', 'KEY=VALUE pairs; with none (and no --env-file) on a terminal, asks for them')
    .option('--env-file <file>', 'read KEY=VALUE lines from a dotenv file')
    .action(action(setSecrets));

  withConnection(secrets.command('list'))
    .description('list the secret keys of an agent (never the values)')
    .argument('<agent>', 'agent name or id')
    .option('--json', 'print JSON')
    .action(action(listSecrets));

  withConnection(secrets.command('delete'))
    .description('delete a secret from an agent')
    .argument('<agent>', 'agent name or id')
    .argument('<key>', 'secret key')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(action(deleteSecret));
}

async function setSecrets(out: Output, agent: string, pairs: string[], flags: SetFlags): Promise<void> {
  const values: Record<string, string> = {};
  if (flags.envFile) Object.assign(values, readEnvFile(flags.envFile));
  Object.assign(values, parsePairs(pairs));
  if (Object.keys(values).length === 0) {
    if (pairs.length > 0 || flags.envFile) throw usageError('No secrets given');
    if (!process.stdin.isTTY) {
      throw usageError('No secrets given: pass KEY=VALUE pairs or --env-file FILE (or run in a terminal to type them)', [
        `  credproxy secrets set ${agent} KEY=VALUE`,
      ]);
    }
    Object.assign(values, await askForSecrets());
    if (Object.keys(values).length === 0) throw usageError('No secrets given');
  }

  const { keys } = await connect(flags).setAgentSecrets(agent, values).catch(agentNotFound(agent));
  out.success(`Set ${Object.keys(values).length} secret(s) for agent '${agent}'`);
  if (keys.length > 0) out.line(`Current secrets: ${keys.join(', ')}`);
}

async function listSecrets(out: Output, agent: string, flags: ListFlags): Promise<void> {
  const info = await connect(flags).getAgent(agent).catch(agentNotFound(agent));
  if (flags.json) {
    out.json(info.secrets);
    return;
  }
  if (info.secrets.length === 0) {
    out.line(`No secrets configured for agent '${agent}'`);
    out.line(`Set secrets with: credproxy secrets set ${agent} KEY=VALUE`);
    return;
  }
  out.line(`Secrets for agent '${agent}':`);
  out.line();
  out.table(
    ['Key'],
    info.secrets.map((s) => [s.key]),
  );
  printKinds(out, info);
}

async function deleteSecret(out: Output, agent: string, key: string, flags: DeleteFlags): Promise<void> {
  if (!flags.yes && !(await confirm(`Delete secret '${key}' from agent '${agent}'?`))) {
    out.line('Cancelled');
    return;
  }
  const { keys } = await connect(flags)
    .deleteAgentSecret(agent, key)
    .catch((err: unknown) => {
      if (err instanceof RequestError && err.details?.code === 'secret_not_found') {
        throw new CliError(`Secret '${key}' not found on agent '${agent}'`);
      }
      return agentNotFound(agent)(err);
    });
  out.success(`Deleted secret '${key}' from agent '${agent}'`);
  if (keys.length > 0) out.line(`Remaining secrets: ${keys.join(', ')}`);
}

/** KEY=VALUE arguments, split on the first `=` (docs/contract.md#agent-cli's rules and messages). */
export function parsePairs(pairs: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const kv of pairs) {
    const eq = kv.indexOf('=');
    if (eq === -1) throw usageError(`Invalid format '${kv}'. Use KEY=VALUE`);
    if (eq === 0) throw usageError(`Empty key in '${kv}'`);
    values[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return values;
}

function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw usageError(`Cannot read env file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    return parseEnvFile(text, path);
  } catch (err) {
    throw usageError((err as Error).message);
  }
}

/** Terminal entry: a visible key, then its value without echo; a blank key finishes. */
async function askForSecrets(): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (;;) {
    const key = (await readLine('Secret key (blank to finish): ')).trim();
    if (key === '') return values;
    values[key] = await readHidden(`Value for ${key} (hidden): `);
  }
}

/** After the table: which keys reach the agent as stand-ins and which as they are. */
function printKinds(out: Output, info: AgentInfo): void {
  const proxied = info.secrets.filter((s) => s.kind === 'provider').map((s) => s.key);
  const plain = info.secrets.filter((s) => s.kind === 'plain').map((s) => s.key);
  out.line();
  if (proxied.length > 0) out.line(out.dim(`Proxied (the agent sees a stand-in): ${proxied.join(', ')}`));
  if (plain.length > 0) out.line(out.dim(`Plain (passed to the agent as is): ${plain.join(', ')}`));
}

/** Turns the API's `agent_not_found` into the CLI's `Agent '<agent>' not found`. */
export function agentNotFound(agent: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof RequestError && err.details?.code === 'agent_not_found') throw new CliError(`Agent '${agent}' not found`);
    throw err;
  };
}
