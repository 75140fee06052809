import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { CredproxyClient } from '../sdk/client.js';
import { usageError } from './cli-error.js';

export const DEFAULT_URL = 'http://127.0.0.1:8081';
export const DEFAULT_DATA_DIR = './data';

/** The options every command that talks to the admin API takes. */
export interface ConnectionFlags {
  url: string;
  dataDir: string;
}

/** Adds `--url` (CREDPROXY_URL) and `--data-dir` (CREDPROXY_DATA_DIR, where the API key file is). */
export function withConnection(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'admin API base URL').env('CREDPROXY_URL').default(DEFAULT_URL))
    .addOption(
      new Option('--data-dir <dir>', 'daemon data directory holding admin-api-key (used when CREDPROXY_API_KEY is unset)')
        .env('CREDPROXY_DATA_DIR')
        .default(DEFAULT_DATA_DIR),
    );
}

/**
 * A client for the daemon: the key is CREDPROXY_API_KEY, else `<dataDir>/admin-api-key`.
 * `requireKey: false` is for routes that need none (`/ca.pem`).
 */
export function connect(flags: ConnectionFlags, options: { requireKey?: boolean; env?: NodeJS.ProcessEnv } = {}): CredproxyClient {
  checkUrl(flags.url);
  const env = options.env ?? process.env;
  const apiKey = env.CREDPROXY_API_KEY || readKeyFile(flags.dataDir, options.requireKey ?? true);
  return new CredproxyClient({ url: flags.url, apiKey });
}

/** `--url 127.0.0.1:8081` would otherwise fail later, as an invalid URL or a `127.0.0.1:` scheme. */
function checkUrl(url: string): void {
  let protocol: string | undefined;
  try {
    protocol = new URL(url).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol === 'http:' || protocol === 'https:') return;
  throw usageError(`--url ${JSON.stringify(url)} is not an http:// URL; try --url http://${url.replace(/^[a-z]+:\/\//i, '')}`);
}

function readKeyFile(dataDir: string, required: boolean): string {
  const path = join(resolve(dataDir), 'admin-api-key');
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    if (!required) return '';
    throw usageError(
      `No admin API key: set CREDPROXY_API_KEY or point --data-dir at the daemon's data directory (cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}
