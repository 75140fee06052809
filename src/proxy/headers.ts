import type { IncomingHttpHeaders } from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1): never relayed in either direction. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
/**
 * Plus the ones the proxy sets itself: `expect` is answered by the proxy's own http server
 * (100-continue), and `host` is rebuilt from the CONNECT authority.
 */
const REQUEST_DROPPED: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'expect', 'host', 'http2-settings']);
const RESPONSE_DROPPED: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'proxy-connection', 'proxy-authenticate']);

/** Response header values as undici delivers them: lowercased names, arrays for repeats. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/**
 * The header list sent upstream, flat `[name, value, …]` as undici and raw writers take it:
 * `host` first (always the CONNECT authority, so the Host header cannot redirect a request),
 * then the client's headers without hop-by-hop, `Proxy-*` or names listed in Connection
 * (undici writes `connection` and `upgrade` itself, for an upgrade from its `upgrade` option).
 */
export function forwardHeaders(headers: IncomingHttpHeaders, authority: string): string[] {
  const out = ['host', authority];
  const listed = connectionTokens(headers.connection);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (REQUEST_DROPPED.has(name) || isProxyHeader(name) || listed?.has(name)) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const item of value) out.push(name, item);
  }
  return out;
}

/**
 * The upstream response's headers to relay: a new object without hop-by-hop headers and, when
 * `dropLength` (a scrubbed body may change length), without Content-Length. Copying instead of
 * `delete` keeps the object in V8's fast mode for writeHead and the scrubber: deleting turned it
 * into a dictionary, ≈ 4 µs per response.
 */
export function relayedResponseHeaders(headers: ResponseHeaders, dropLength: boolean): ResponseHeaders {
  const connection = headers.connection;
  const listed = connectionTokens(typeof connection === 'string' ? connection : undefined);
  const relayed: ResponseHeaders = {};
  for (const name in headers) {
    if (RESPONSE_DROPPED.has(name) || listed?.has(name) || (dropLength && name === 'content-length')) continue;
    relayed[name] = headers[name];
  }
  return relayed;
}

function isProxyHeader(name: string): boolean {
  return name.length > 6 && name.charCodeAt(0) === 112 /* p */ && name.startsWith('proxy-');
}

/** Extra header names a Connection header declares hop-by-hop; undefined for the usual values. */
function connectionTokens(value: string | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close' || lower === 'upgrade') return undefined;
  return new Set(
    lower
      .split(',')
      .map((token) => token.trim())
      .filter(Boolean),
  );
}

/** `host` or `host:port` for the Host header: default ports are left out, IPv6 gets brackets. */
export function authorityFor(host: string, port: number, secure: boolean): string {
  const name = host.includes(':') ? `[${host}]` : host;
  return port === (secure ? 443 : 80) ? name : `${name}:${port}`;
}
