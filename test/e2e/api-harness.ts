// Shared by the test/e2e/api-*.test.ts files: a real admin listener on 127.0.0.1:0 over a real
// store in a temporary data dir, with the log lines kept for leak checks.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { buildAdminApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { SecretCipher } from '../../src/secrets/crypto.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { UntypedJson } from '../helpers/harness/index.js';

export const API_KEY = 'test-admin-key-0123456789abcdef';
export const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n';
export const SANDBOX_ENV = { proxyUrl: 'http://127.0.0.1:18080', caPath: '/etc/credproxy/ca-bundle.pem' };

export interface AdminHarness {
  readonly url: string;
  readonly store: Store;
  readonly dataDir: string;
  /** Every log line written so far. */
  readonly logs: string[];
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
}

export interface CallOptions {
  /** JSON body; sent with content-type application/json. */
  json?: unknown;
  /** Raw body with the headers given. */
  body?: string;
  /** Replaces the default X-API-Key header entirely. */
  headers?: Record<string, string>;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed body, or undefined when it is not JSON. */
  json: UntypedJson;
}

export async function startAdmin(
  t: { after: (fn: () => Promise<void> | void) => void },
  extraRoutes?: ReadonlyArray<(app: FastifyInstance) => void | Promise<void>>,
): Promise<AdminHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-api-'));
  const dataDir = join(dir, 'data');
  const config = loadConfig({ env: {}, cwd: dir, flags: { dataDir } });
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } });
  const store = openStore({ dataDir, cipher: new SecretCipher(randomBytes(32)) });
  const app = buildAdminApp({
    config,
    logger,
    apiKey: API_KEY,
    caCertPem: CA_PEM,
    store,
    sandboxEnv: SANDBOX_ENV,
    ...(extraRoutes && { extraRoutes }),
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(async () => {
    await app.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = options.headers ?? { 'x-api-key': API_KEY };
    let body: string | undefined = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await request(`${url}${path}`, { method: method as 'GET', headers, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text, json };
  }

  return { url, store, dataDir, logs, call };
}
