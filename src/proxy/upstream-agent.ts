import { readFileSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import type { FrozenConfig } from '../config/schema.js';
import type { EgressGuard } from './egress.js';

/**
 * Longest an idle pooled upstream connection is kept, whatever `Keep-Alive: timeout=` the upstream
 * offers (undici's own default is 600 s; without a hint it keeps 4 s). A burst of 1,000 requests
 * otherwise leaves 1,000 upstream TLS connections, ≈ 25 KB each, for as long as the upstream allows.
 */
const IDLE_UPSTREAM_MAX_MS = 10_000;

/** A pre-dialled connection left unused is closed after this long. */
const SPARE_IDLE_MS = 2_000;

/** The pooled upstream client, dialling through the egress guard. */
export interface Upstream {
  readonly agent: Agent;
  /**
   * Starts a verified TLS connection to host:port when the pool holds none, so a new tunnel's
   * first request does not wait for the upstream handshake: it overlaps the leaf mint and the
   * client's handshake. The pool's next connection to that origin takes it; unused, it is closed
   * after SPARE_IDLE_MS. Never throws; a request that finds the pre-dial still under way waits for
   * it (its failure is the request's), one that comes after a failure dials afresh.
   */
  preconnect(host: string, port: number): void;
  /** Closes the pool and any pre-dialled connection. */
  close(): Promise<void>;
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

  const checkedConnect: buildConnector.connector = (options, callback) => {
    const host = unbracket(options.hostname);
    const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
    guard.check(host, port).then(
      (target) =>
        base(
          {
            ...options,
            hostname: target.ip,
            port: String(target.port),
            servername: isIP(host) ? '' : host,
          },
          callback,
        ),
      (err: Error) => callback(err, null),
    );
  };

  /** `host:port` → TLS connections the pool holds / a pre-dialled one waiting to be taken. */
  const pooled = new Map<string, number>();
  const spares = new Map<string, Promise<Socket>>();
  const poolKey = (options: buildConnector.Options): string | undefined =>
    options.protocol === 'https:' ? `${unbracket(options.hostname)}:${Number(options.port) || 443}` : undefined;

  const track = (key: string, socket: Socket): void => {
    pooled.set(key, (pooled.get(key) ?? 0) + 1);
    socket.once('close', () => {
      const left = pooled.get(key)! - 1;
      if (left > 0) pooled.set(key, left);
      else pooled.delete(key);
    });
  };

  const connect: buildConnector.connector = (options, callback) => {
    const key = poolKey(options);
    if (key === undefined) {
      checkedConnect(options, callback);
      return;
    }
    const fresh = (): void =>
      checkedConnect(options, (err, socket) => {
        if (err) callback(err, null);
        else {
          track(key, socket!);
          callback(null, socket!);
        }
      });
    const spare = spares.get(key);
    if (spare === undefined) {
      fresh();
      return;
    }
    spares.delete(key);
    // A spare still dialling is this request's own attempt, started early: its failure is the request's.
    spare.then(
      (socket) => {
        socket.off('error', ignore);
        if (socket.destroyed) fresh();
        else {
          track(key, socket);
          callback(null, socket);
        }
      },
      (err: Error) => callback(err, null),
    );
  };

  const preconnect = (host: string, port: number): void => {
    const options = { hostname: host, host: `${host}:${port}`, port: String(port), protocol: 'https:' };
    const key = poolKey(options)!;
    if (pooled.has(key) || spares.has(key)) return;
    const spare = new Promise<Socket>((resolve, reject) => {
      checkedConnect(options, (err, socket) => (err ? reject(err) : resolve(socket!)));
    });
    spares.set(key, spare);
    const forget = (): boolean => spares.get(key) === spare && spares.delete(key);
    spare.then((socket) => {
      socket.on('error', ignore); // an idle spare reset by the upstream must not throw
      socket.once('close', forget);
      setTimeout(() => forget() && socket.destroy(), SPARE_IDLE_MS).unref();
    }, forget);
  };

  const agent = new Agent({
    connect,
    headersTimeout: config.upstream.headersTimeoutMs,
    bodyTimeout: config.upstream.bodyTimeoutMs,
    keepAliveMaxTimeout: IDLE_UPSTREAM_MAX_MS,
  });

  const close = async (): Promise<void> => {
    for (const spare of spares.values()) spare.then((socket) => socket.destroy(), ignore);
    spares.clear();
    await agent.destroy();
  };

  return { agent, preconnect, close };
}

function ignore(): void {}

function unbracket(host: string): string {
  return host.charCodeAt(0) === 91 /* [ */ ? host.slice(1, -1) : host;
}
