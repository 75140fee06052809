// What the scenarios run inside a network namespace share (as root there): clients run as nobody
// (65534) with no proxy variables at all, so the kernel redirect is their only way out, and
// `credproxy iptables` is run from this checkout.
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
const CLEAN_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8' };

/** Where the namespace's clients find the CA: the system trust store, as in production. */
export const BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
export { PYTHON as python } from '../../helpers/client-commands.js';

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command as nobody with no proxy variables, bounded in time. */
export function asNobody(command: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(NOBODY[0]!, [...NOBODY.slice(1), command, ...args], { env: { ...CLEAN_ENV, ...env }, timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** `credproxy iptables <args>` from this checkout. */
export function iptablesCli(...args: string[]): Ran {
  const ran = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'iptables', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: ran.status, stdout: ran.stdout, stderr: ran.stderr };
}

/** The flags that point `credproxy iptables` at the daemon's transparent listeners, leaving only 127.0.0.1 alone. */
export function rulesFlags(transparentHttps: string | undefined, transparentHttp: string | undefined): string[] {
  const port = (address: string | undefined): string => address!.slice(address!.lastIndexOf(':') + 1);
  return ['--uid', '0', '--https-port', port(transparentHttps), '--http-port', port(transparentHttp), '--loopback', '127.0.0.1/32', '--resolver', '127.0.0.53'];
}

/** How many credproxy rules iptables and ip6tables hold. */
export function credproxyRuleCount(): number {
  return spawnSync('sh', ['-c', 'iptables-save; ip6tables-save'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes('CREDPROXY')).length;
}

/** A client's JSON answer (the echo upstream's), or what it printed when that is not JSON. */
export function echoed(ran: Ran): unknown {
  try {
    return JSON.parse(ran.stdout);
  } catch {
    return ran;
  }
}

/** The scenario's one line of output, which the test reads. */
export function printResult(result: Record<string, unknown>): void {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}
