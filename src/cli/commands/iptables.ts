import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { action } from '../action.js';
import { CliError, usageError } from '../cli-error.js';
import { blockedCounts, DEFAULT_LOOPBACK, EGRESS_CHAIN, egressRules, resolversOf, rulesScript, type FamilyRules } from '../iptables-rules.js';

interface IptablesFlags {
  uid?: string;
  httpsPort?: string;
  httpPort?: string;
  resolver?: string[];
  loopback?: string[];
  config?: string;
  apply?: boolean;
  remove?: boolean;
  status?: boolean;
  json?: boolean;
}

/**
 * `credproxy iptables`: the rules that make the current network namespace transparent (see
 * iptables-rules.ts). Prints them as a shell script; `--apply` installs them, `--remove` takes
 * them out, `--status` shows how many attempts they refused. Needs NET_ADMIN for all but printing.
 */
export function registerIptablesCommand(program: Command): void {
  program
    .command('iptables')
    .description('print (or --apply / --remove) the iptables rules that send this network namespace through credproxy')
    .requiredOption('--uid <uid>', 'the uid credproxy runs as: its own traffic is never redirected (the image uses 10001)')
    .option('--https-port <port>', 'where TCP 443 goes (default: the port of transparent.https)')
    .option('--http-port <port>', 'where TCP 80 goes (default: the port of transparent.http; unset: port 80 is refused)')
    .option('--resolver <ip>', 'a DNS server the sandbox may ask (repeatable; default: /etc/resolv.conf)', collect, undefined)
    .option('--loopback <cidr>', `a destination left alone (repeatable; default ${DEFAULT_LOOPBACK.join(', ')})`, collect, undefined)
    .option('--config <file>', 'YAML config file to read the transparent listeners from (default: as serve)')
    .option('--apply', 'install the rules (idempotent: re-running replaces them)')
    .option('--remove', 'remove the rules')
    .option('--status', 'show whether the rules are installed and how many attempts they refused')
    .option('--json', 'with --status: as JSON')
    .action(
      action(async (out, flags: IptablesFlags) => {
        if ([flags.apply, flags.remove, flags.status].filter(Boolean).length > 1) throw usageError('choose one of --apply, --remove, --status');
        const uid = wholeNumber(flags.uid!, '--uid');
        if (flags.status) {
          const status = await readStatus();
          if (flags.json) out.line(JSON.stringify(status));
          else
            for (const [family, s] of Object.entries(status))
              out.line(`${family}: ${s.installed ? 'installed' : 'not installed'}; refused tcp ${s.tcp}, udp ${s.udp}`);
          return;
        }
        if (flags.remove) {
          for (const rules of egressRules({ uid, httpsPort: 1, httpPort: undefined, resolvers: [], loopback: [] })) await removeRules(rules);
          out.success('credproxy rules removed');
          return;
        }
        const options = rulesOptions(uid, flags);
        const rules = egressRules(options);
        if (!flags.apply) {
          process.stdout.write(rulesScript(rules, `credproxy iptables --uid ${uid}: apply with --apply, undo with --remove`));
          return;
        }
        for (const family of rules) await applyRules(family);
        out.success(`credproxy rules installed: TCP 443${options.httpPort === undefined ? '' : ' and 80'} → credproxy, other egress refused`);
      }),
    );
}

function rulesOptions(uid: number, flags: IptablesFlags): Parameters<typeof egressRules>[0] {
  const config = loadConfig({ file: flags.config });
  const portOf = (flag: string | undefined, name: string, listen: string | undefined): number | undefined => {
    if (flag !== undefined) return wholeNumber(flag, name);
    const port = listen === undefined ? undefined : Number(listen.slice(listen.lastIndexOf(':') + 1));
    return port === 0 ? undefined : port;
  };
  const httpsPort = portOf(flags.httpsPort, '--https-port', config.transparent.https);
  if (httpsPort === undefined) {
    throw usageError('no transparent https port: set transparent.https (not port 0) or pass --https-port');
  }
  const resolvers = flags.resolver ?? resolversOf(existsSync('/etc/resolv.conf') ? readFileSync('/etc/resolv.conf', 'utf8') : '');
  return {
    uid,
    httpsPort,
    httpPort: portOf(flags.httpPort, '--http-port', config.transparent.http),
    resolvers,
    loopback: flags.loopback ?? [...DEFAULT_LOOPBACK],
  };
}

async function applyRules(rules: FamilyRules): Promise<void> {
  const restored = await run(`${rules.binary}-restore`, ['--noflush'], rules.restore);
  if (restored.code !== 0) {
    // Without IPv6 in the kernel there is no IPv6 traffic to send anywhere.
    if (rules.family === 'ipv6' && !existsSync('/proc/net/if_inet6')) return;
    throw new CliError(`${rules.binary}-restore failed: ${restored.stderr.trim().split('\n')[0] ?? restored.code}`, {
      hints: ['It needs NET_ADMIN in this network namespace (run as root, or an init container with NET_ADMIN).'],
    });
  }
  for (const { table, chain } of rules.jumps) {
    if ((await run(rules.binary, ['-t', table, '-C', 'OUTPUT', '-j', chain])).code === 0) continue;
    const inserted = await run(rules.binary, ['-t', table, '-I', 'OUTPUT', '1', '-j', chain]);
    if (inserted.code !== 0) throw new CliError(`${rules.binary} -t ${table} -I OUTPUT failed: ${inserted.stderr.trim()}`);
  }
}

async function removeRules(rules: FamilyRules): Promise<void> {
  for (const { table, chain } of rules.jumps) {
    // -D removes one jump per call; a jump added twice by hand goes too.
    for (let i = 0; i < 16 && (await run(rules.binary, ['-t', table, '-D', 'OUTPUT', '-j', chain])).code === 0; i++);
    await run(rules.binary, ['-t', table, '-F', chain]);
    await run(rules.binary, ['-t', table, '-X', chain]);
  }
}

async function readStatus(): Promise<Record<'ipv4' | 'ipv6', { installed: boolean; tcp: number; udp: number }>> {
  const one = async (binary: string): Promise<{ installed: boolean; tcp: number; udp: number }> => {
    const listing = await run(binary, ['-t', 'filter', '-L', EGRESS_CHAIN, '-n', '-v', '-x']);
    return listing.code === 0 ? { installed: true, ...blockedCounts(listing.stdout) } : { installed: false, tcp: 0, udp: 0 };
  };
  return { ipv4: await one('iptables'), ipv6: await one('ip6tables') };
}

/** Runs an iptables tool; a missing binary is a clear error, any other failure is the caller's to judge. */
function run(command: string, args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new CliError(`${command} not found`, { hints: ['Install iptables (Debian: apt-get install iptables).'] }) : err);
    });
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

function wholeNumber(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw usageError(`${flag} must be a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
