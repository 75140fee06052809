import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

/** Where a redirected connection was going before the kernel sent it to a transparent listener. */
export interface OriginalDestination {
  /** IP address, no brackets (IPv4 as dotted quad, also for IPv4 on a dual-stack socket). */
  readonly address: string;
  readonly port: number;
}

interface Addon {
  readonly supported: boolean;
  originalDestination(fd: number): OriginalDestination | null;
}

/**
 * The native addon (`native/original-dst.c`, built by `npm ci` through node-gyp into build/Release,
 * two levels above both src/proxy and dist/proxy), or why it is not there.
 */
function loadAddon(): { addon: Addon | undefined; unavailable: string | undefined } {
  try {
    const addon = createRequire(import.meta.url)('../../build/Release/original_dst.node') as Addon;
    return addon.supported ? { addon, unavailable: undefined } : { addon: undefined, unavailable: 'SO_ORIGINAL_DST exists on Linux only' };
  } catch (err) {
    return {
      addon: undefined,
      unavailable: `the original_dst addon did not load (${(err as NodeJS.ErrnoException).code ?? 'error'}; run npm ci or npm run install)`,
    };
  }
}

const { addon, unavailable } = loadAddon();

/** Why original destinations cannot be read on this install, or undefined when they can. */
export const ORIGINAL_DST_UNAVAILABLE: string | undefined = unavailable;

/**
 * The destination the client dialled before an iptables/nftables REDIRECT (getsockopt
 * SO_ORIGINAL_DST, IP6T_SO_ORIGINAL_DST for IPv6). Undefined when the connection was not
 * redirected (it came to the listener's own address), or the platform cannot tell.
 */
export function originalDestination(socket: Socket): OriginalDestination | undefined {
  // Node exposes no getsockopt; the handle's descriptor is the one documented-by-use way in.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (addon === undefined || fd === undefined || fd < 0) return undefined;
  const found = addon.originalDestination(fd);
  if (found === null) return undefined;
  // With conntrack loaded, a connection nobody redirected reports the listener itself.
  if (found.port === socket.localPort && sameAddress(found.address, socket.localAddress)) return undefined;
  return found;
}

function sameAddress(a: string, b: string | undefined): boolean {
  return b !== undefined && (a === b || `::ffff:${a}` === b);
}
