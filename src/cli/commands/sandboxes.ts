import type { Command } from 'commander';
import { RequestError } from '../../sdk/request-error.js';
import { action } from '../action.js';
import { CliError, usageError } from '../cli-error.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import type { Output } from '../output.js';
import { confirm } from '../prompt.js';

interface CreateFlags extends ConnectionFlags {
  name: string;
  secret: string[];
  env: string[];
  allowOut: string[];
  denyOut: string[];
  sourceAddress: string[];
  ttl?: string;
  expiresAt?: string;
  json?: boolean;
}

/** `credproxy sandboxes list|create|delete` over the Superserve-style sandbox API. */
export function registerSandboxesCommands(program: Command): void {
  const sandboxes = program.command('sandboxes').description('manage sandboxes (identities with bound secrets)');

  withConnection(sandboxes.command('list'))
    .description('list sandboxes (all, or one page with --limit / --cursor)')
    .option('--limit <n>', 'one page of at most n sandboxes (1-1000)')
    .option('--cursor <cursor>', 'the page after the one that printed this cursor')
    .option('--json', 'print JSON')
    .action(action(listSandboxes));

  withConnection(sandboxes.command('create'))
    .description('create a sandbox; prints its id and how to get its environment')
    .requiredOption('--name <name>', 'sandbox name')
    .option('--secret <ENV_KEY=secret>', 'bind a secret under an env var (repeatable)', collect, [])
    .option('--env <KEY=VALUE>', 'plain env var (repeatable)', collect, [])
    .option('--allow-out <host>', 'network.allow_out entry (repeatable)', collect, [])
    .option('--deny-out <host>', 'network.deny_out entry (repeatable)', collect, [])
    .option('--source-address <ip>', 'an address its traffic comes from, for transparent mode (repeatable)', collect, [])
    .option('--ttl <seconds>', 'its tokens stop working this many seconds from now')
    .option('--expires-at <time>', 'its tokens stop working at this RFC 3339 time (e.g. 2030-01-02T15:04:05Z)')
    .option('--json', 'print the sandbox as JSON (includes its access token)')
    .action(action(createSandbox));

  withConnection(sandboxes.command('delete'))
    .description('delete a sandbox; its tokens stop working at once')
    .argument('<id>', 'sandbox id')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(
      action(async (out, id: string, flags: ConnectionFlags & { yes?: boolean }) => {
        if (!flags.yes && !(await confirm(`Delete sandbox '${id}'?`))) return out.line('Cancelled');
        await connect(flags)
          .deleteSandbox(id)
          .catch((err: unknown) => {
            if (err instanceof RequestError && err.status === 404) throw new CliError(`Sandbox '${id}' not found`);
            throw err;
          });
        out.success(`Deleted sandbox '${id}'`);
      }),
    );
}

async function listSandboxes(out: Output, flags: ConnectionFlags & { json?: boolean; limit?: string; cursor?: string }): Promise<void> {
  const client = connect(flags);
  const paged = flags.limit !== undefined || flags.cursor !== undefined;
  const limit = flags.limit === undefined ? undefined : Number(flags.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000))
    throw usageError(`Invalid --limit '${flags.limit}'. Use a number from 1 to 1000`);
  const page = paged ? await client.listSandboxesPage({ limit, cursor: flags.cursor }) : undefined;
  const list = page ? page.data : await client.listSandboxes();
  if (flags.json) return out.json(page ?? list);
  if (list.length === 0) out.line('No sandboxes');
  else {
    out.table(
      ['Id', 'Name', 'Secrets', 'Created', 'Expires'],
      list.map((s) => [
        s.id,
        s.name,
        s.secrets.map((b) => `${b.env_key}${b.revoked ? ' (revoked)' : ''}`).join(', ') || '-',
        s.created_at,
        s.expires_at ?? '-',
      ]),
    );
  }
  if (page?.next_cursor) out.line(`More: credproxy sandboxes list --limit ${limit ?? 100} --cursor ${page.next_cursor}`);
}

async function createSandbox(out: Output, flags: CreateFlags): Promise<void> {
  if (flags.ttl !== undefined && !/^[1-9][0-9]*$/.test(flags.ttl)) throw usageError(`Invalid --ttl '${flags.ttl}'. Use a whole number of seconds`);
  const client = connect(flags);
  const sandbox = await client
    .createSandbox({
      name: flags.name,
      secrets: splitPairs(flags.secret, '--secret', 'ENV_KEY=secret'),
      env_vars: splitPairs(flags.env, '--env', 'KEY=VALUE'),
      network: { allow_out: flags.allowOut, deny_out: flags.denyOut },
      ...(flags.sourceAddress.length > 0 && { source_addresses: flags.sourceAddress }),
      ...(flags.ttl !== undefined && { ttl: Number(flags.ttl) }),
      ...(flags.expiresAt !== undefined && { expires_at: flags.expiresAt }),
    })
    .catch(async (err: unknown) => {
      if (!(err instanceof RequestError && err.code === 'conflict')) throw err;
      // A create checks the name before anything else, so a 409 with a live holder of the name is that.
      const holder = await client.findSandboxByName(flags.name);
      if (!holder) throw err;
      throw new CliError(`Sandbox '${flags.name}' already exists (${holder.id})`, {
        hints: [`Delete it first: credproxy sandboxes delete ${holder.id}`, 'or choose another --name'],
      });
    });
  if (flags.json) return out.json(sandbox);
  out.success(`Created sandbox '${sandbox.name}' (${sandbox.id})${sandbox.expires_at ? `, expires ${sandbox.expires_at}` : ''}`);
  out.line(`Its environment: credproxy env ${sandbox.id}`);
}

function splitPairs(pairs: readonly string[], flag: string, shape: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const kv of pairs) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw usageError(`Invalid ${flag} '${kv}'. Use ${shape}`);
    map[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return map;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
