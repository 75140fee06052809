import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import type { FrozenConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { createDaemon, type Daemon } from '../../src/main.js';

/** Collects the daemon's NDJSON log lines in memory, as pino writes them. */
export class LogSink {
  readonly lines: string[] = [];

  write(chunk: string): void {
    this.lines.push(chunk);
  }

  get text(): string {
    return this.lines.join('');
  }

  entries(): Array<Record<string, unknown>> {
    return this.text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

/**
 * An admin-API body whose type the call site has not named (`api<SandboxInfo>(…)` names it). The
 * one deliberate `any` of the helpers: most tests read a field or two of a reply they just asserted.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type UntypedJson = any;

export interface ApiResponse<T = UntypedJson> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: T;
}

export interface TestDaemon {
  daemon: Daemon;
  config: FrozenConfig;
  /** Working directory holding data/ and certs/; pass it again to restart on the same state. */
  dir: string;
  logs: LogSink;
  /** Calls the admin API with the daemon's key. */
  api<T = UntypedJson>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  /** The proxy URL a sandbox uses: http://sb:<token>@host:port. */
  proxyUrl(accessToken?: string): string;
  close(): Promise<void>;
}

export interface StartDaemonOptions {
  /** Config values by dotted key (e.g. 'upstream.resolve': [...]). */
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** Reuse a previous daemon's directory (restart). */
  dir?: string;
  /** How often expired sandboxes are deleted (createDaemon's expirySweepMs). */
  expirySweepMs?: number;
}

/** Starts the real daemon in-process on 127.0.0.1 port 0 with its own data and CA directory. */
export async function startDaemon(options: StartDaemonOptions = {}): Promise<TestDaemon> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'credproxy-daemon-'));
  const config = loadConfig({
    cwd: dir,
    env: options.env ?? {},
    flags: {
      'proxy.listen': '127.0.0.1:0',
      'admin.listen': '127.0.0.1:0',
      'log.level': 'debug',
      ...options.flags,
    },
  });
  const logs = new LogSink();
  const daemon = await createDaemon(config, { logger: createLogger({ level: config.log.level, destination: logs }), expirySweepMs: options.expirySweepMs });
  const adminBase = `http://${daemon.adminAddress}`;

  return {
    daemon,
    config,
    dir,
    logs,
    async api(method, path, body, headers = {}) {
      const res = await request(adminBase + path, {
        method: method as 'GET',
        headers: {
          'x-api-key': daemon.apiKey,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.body.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.statusCode, headers: res.headers, text, json: json as UntypedJson };
    },
    proxyUrl(accessToken) {
      return accessToken ? `http://sb:${accessToken}@${daemon.proxyAddress}` : `http://${daemon.proxyAddress}`;
    },
    close: () => daemon.close(),
  };
}
