import type { AddressInfo } from 'node:net';

/** Splits `host:port` / `[v6]:port` (already validated by the config schema). */
export function splitListen(listen: string): [string, number] {
  const at = listen.lastIndexOf(':');
  return [listen.slice(0, at).replace(/^\[|\]$/g, ''), Number(listen.slice(at + 1))];
}

/** host:port for humans and clients; `forClients` shows a wildcard bind as loopback. */
export function formatAddress(address: Pick<AddressInfo, 'address' | 'port'>, forClients = false): string {
  let host = address.address;
  if (forClients && (host === '0.0.0.0' || host === '::')) host = '127.0.0.1';
  return host.includes(':') ? `[${host}]:${address.port}` : `${host}:${address.port}`;
}
