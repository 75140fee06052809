import { readFileSync, readlinkSync } from 'node:fs';
import { Command } from 'commander';
import { resolveConfig } from '../../config/load.js';
import { formatAddress, splitListen } from '../../config/listen-address.js';
import { serveOptions, serveSources, type ServeFlags } from '../serve-flags.js';

interface HealthcheckFlags extends ServeFlags {
  pid: string;
  timeout: string;
}

/**
 * `credproxy healthcheck`: exit 0 when the admin listener in force answers `GET /healthz`, else 1
 * (the image's HEALTHCHECK; Docker reserves other codes). "In force" is what the running serve
 * resolved: its command line (read from /proc/<pid>/cmdline, `serve --config …` included) and
 * its working directory, with this process's environment (a container's health check runs with
 * the container's) and any flags given here on top. Loads the config code only, never the daemon.
 */
export function registerHealthcheckCommand(program: Command): void {
  serveOptions(program.command('healthcheck'))
    .description('exit 0 when the admin listener of the running `credproxy serve` answers /healthz (for HEALTHCHECK)')
    .option('--pid <pid>', "the serve process whose command line to read (default 1: a container's first process)", '1')
    .option('--timeout <ms>', 'give up after this long', '2000')
    .action(async (flags: HealthcheckFlags) => {
      const { pid, timeout, ...own } = flags;
      const served = servedBy(pid);
      let url: string;
      let from: string;
      try {
        const { config, origins } = resolveConfig({
          ...serveSources({ ...served?.flags, ...definedOnly(own) }),
          ...(served?.cwd !== undefined && { cwd: served.cwd }),
        });
        const [host, port] = splitListen(config.admin.listen);
        url = `http://${formatAddress({ address: host, port }, true)}/healthz`;
        from = origins.keys.get('admin.listen') ?? 'the default';
      } catch (err) {
        return fail(`cannot tell the admin address: ${(err as Error).message}`);
      }
      const seen = served ? `serve pid ${pid}` : `no credproxy serve at pid ${pid}: own flags and env`;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(Number(timeout)) });
        await res.body?.cancel();
        if (res.status !== 200) return fail(`${url} answered ${res.status} (admin.listen from ${from}; ${seen})`);
        process.stdout.write(`healthy: ${url} (admin.listen from ${from}; ${seen})\n`);
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        return fail(`${url}: ${e.cause?.code ?? e.name} (admin.listen from ${from}; ${seen})`);
      }
    });
}

/** The flags and directory of `credproxy serve` running as `pid`, or undefined when it is not that. */
function servedBy(pid: string): { flags: ServeFlags; cwd: string | undefined } | undefined {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  // `node bin/credproxy serve …`, `credproxy serve …`, or behind an init (`docker-init -- node …`).
  const at = argv.findIndex((arg, i) => arg === 'serve' && i > 0 && /(^|\/)(credproxy|main\.js)$/.test(argv[i - 1]!));
  if (at < 0) return undefined;
  const parser = serveOptions(new Command('serve')).exitOverride().allowUnknownOption().allowExcessArguments();
  parser.parseOptions(argv.slice(at + 1).filter((arg) => arg !== ''));
  let cwd: string | undefined;
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    cwd = undefined; // another user's process: relative paths resolve against ours
  }
  return { flags: parser.opts<ServeFlags>(), cwd };
}

function definedOnly<T extends object>(flags: T): Partial<T> {
  return Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function fail(message: string): void {
  process.stderr.write(`credproxy healthcheck: ${message}\n`);
  process.exitCode = 1;
}
