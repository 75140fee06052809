import type { Command } from 'commander';
import { action } from '../action.js';
import { EXIT_FAILURE, usageError } from '../cli-error.js';
import { CA_VARIABLES, runDoctor, type DoctorInputs } from '../doctor.js';
import type { Output } from '../output.js';

interface DoctorFlags {
  proxy?: string;
  ca?: string;
  timeout: string;
}

/** `credproxy doctor <host>`: checks a sandbox's environment end to end, one line per check. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check a sandbox env: proxy reachable, token accepted, CA trusted, a host reachable through the proxy')
    .argument('<host>', 'a host the sandbox calls (host or host:port, port 443 by default)')
    .option('--proxy <url>', 'the proxy URL with the access token (default: $HTTPS_PROXY, then $https_proxy)')
    .option('--ca <file>', `the CA bundle to verify with (default: each of ${CA_VARIABLES.join(', ')} that is set)`)
    .option('--timeout <ms>', 'bound on each step', '5000')
    .addHelpText('after', '\nRun it inside the sandbox, with its env (eval "$(credproxy env <sandbox-id>)"). Exit 0 when every check passed, 1 otherwise.')
    .action(
      action(async (out, host: string, flags: DoctorFlags) => {
        const results = await runDoctor(readInputs(host, flags, process.env));
        print(out, results);
        process.exitCode = results.some((r) => r.status !== 'ok') ? EXIT_FAILURE : 0;
        // A step cut short by its timeout may leave a socket open: do not wait for it.
        setImmediate(() => process.exit());
      }),
    );
}

/** Flags first, then the variables the sandbox env sets; usage errors (exit 2) name what is missing. */
export function readInputs(hostArg: string, flags: DoctorFlags, env: NodeJS.ProcessEnv): DoctorInputs {
  const proxy = flags.proxy ?? env.HTTPS_PROXY ?? env.https_proxy;
  if (!proxy)
    throw usageError('No proxy to check: HTTPS_PROXY is not set', [
      'Run inside the sandbox env (eval "$(credproxy env <sandbox-id>)") or pass --proxy http://sb:<access_token>@host:port',
    ]);
  let proxyUrl: URL;
  try {
    proxyUrl = new URL(proxy);
  } catch {
    throw usageError(`Invalid proxy URL '${proxy.replace(/\/\/[^@/]*@/, '//…@')}'. Use http://sb:<access_token>@host:port`);
  }
  const [, name = '', port = '443'] = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(hostArg) ?? [];
  const portNumber = Number(port);
  if (name === '' || !(portNumber > 0 && portNumber < 65536)) throw usageError(`Invalid host '${hostArg}'. Use host or host:port`);
  const caBundles =
    flags.ca !== undefined
      ? [{ variable: '--ca', path: flags.ca }]
      : CA_VARIABLES.flatMap((variable) => (env[variable] ? [{ variable, path: env[variable]! }] : []));
  const timeoutMs = Number(flags.timeout);
  if (!(timeoutMs > 0)) throw usageError(`Invalid --timeout '${flags.timeout}'. Use milliseconds`);
  return { proxyUrl, caBundles, host: name, port: portNumber, timeoutMs };
}

function print(out: Output, results: Awaited<ReturnType<typeof runDoctor>>): void {
  const width = Math.max(...results.map((r) => r.check.length));
  for (const r of results) {
    const line = `${r.status.padEnd(4)}  ${r.check.padEnd(width)}  ${r.detail}${r.hint ? ` — hint: ${r.hint}` : ''}`;
    out.line(line);
  }
}
