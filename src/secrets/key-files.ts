import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../errors.js';

/** Bytes of entropy in a generated admin API key. */
const API_KEY_BYTES = 32;

export interface ApiKeyConfig {
  readonly dataDir: string;
  readonly admin: { readonly apiKey?: string | undefined };
}

/**
 * The admin API key: `admin.apiKey` when configured, else `<dataDir>/admin-api-key`, generated
 * (32 random bytes, base64url, mode 0600) on first start and reused on every later one.
 */
export function loadOrCreateApiKey(config: ApiKeyConfig): string {
  if (config.admin.apiKey) return config.admin.apiKey;
  const path = join(config.dataDir, 'admin-api-key');
  const key = readOrCreateKeyFile(path, () => randomBytes(API_KEY_BYTES).toString('base64url'));
  assertOwnerOnly(path, 'admin.apiKey');
  if (key.length === 0) throw new Error(`${path} is empty; delete it to generate a new key`);
  return key;
}

/**
 * Refuses a key file that its group or other users can read (master.key, admin-api-key, the CA
 * key): whoever reads it holds the credentials, the admin API or the sandboxes' trust. A
 * ConfigError naming `configKey`, with the command that fixes it.
 */
export function assertOwnerOnly(path: string, configKey: string): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(configKey, `${path} is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}); run: chmod 600 ${path}`);
  }
}

/**
 * Reads a one-line key file, or creates it with `generate()` when it does not exist. Creation
 * writes a 0600 temporary file and hard-links it into place, so a reader never sees a partial
 * key and two processes starting at once agree on one key (the loser reads the winner's file).
 */
export function readOrCreateKeyFile(path: string, generate: () => string): string {
  const existing = readKeyFile(path);
  if (existing !== undefined) return existing;

  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, `${generate()}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  return readKeyFile(path)!;
}

function readKeyFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
