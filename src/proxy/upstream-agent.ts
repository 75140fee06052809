import { readFileSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import type { FrozenConfig } from '../config/schema.js';
import type { EgressGuard } from './egress.js';

/** The pooled upstream client and the egress-checked dialer it (and WebSocket relays) use. */
export interface Upstream {
  readonly agent: Agent;
  /** Opens a TCP (or verified TLS) connection to host:port through the egress guard. */
  dial(host: string, port: number, secure: boolean): Promise<Socket>;
}

/**
 * Builds the undici Agent the proxy forwards with: keep-alive pools per origin, the configured
 * timeouts, TLS ≥ 1.2 verified against the system roots plus `upstream.caFile`, and a connect
 * function that re-checks the destination and dials the address it checked (never re-resolving
 * after the check), with SNI and certificate verification against the original host name.
 * Reads `upstream.caFile` once, at startup.
 */
export function createUpstream(config: FrozenConfig, guard: EgressGuard): Upstream {
  const ca = [...rootCertificates];
  if (config.upstream.caFile) ca.push(readFileSync(config.upstream.caFile, 'utf8'));
  // One context for every upstream connection: passing `ca` to tls.connect would parse ~150 root
  // certificates per connection (milliseconds of CPU each time).
  const secureContext = createSecureContext({ ca, minVersion: 'TLSv1.2' });
  const base = buildConnector({ secureContext, timeout: config.upstream.connectTimeoutMs });

  const connect: buildConnector.connector = (options, callback) => {
    const host = unbracket(options.hostname);
    const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
    guard.check(host, port).then(
      (target) => base({
        ...options,
        hostname: target.ip,
        port: String(target.port),
        servername: isIP(host) ? '' : host,
      }, callback),
      (err: Error) => callback(err, null),
    );
  };

  const agent = new Agent({
    connect,
    headersTimeout: config.upstream.headersTimeoutMs,
    bodyTimeout: config.upstream.bodyTimeoutMs,
  });

  const dial = (host: string, port: number, secure: boolean): Promise<Socket> =>
    new Promise((resolve, reject) => {
      connect(
        { hostname: host, host: `${host}:${port}`, port: String(port), protocol: secure ? 'https:' : 'http:' },
        (err, socket) => (err ? reject(err) : resolve(socket!)),
      );
    });

  return { agent, dial };
}

function unbracket(host: string): string {
  return host.charCodeAt(0) === 91 /* [ */ ? host.slice(1, -1) : host;
}
