import type { IncomingHttpHeaders } from 'node:http';
import { toWire } from '../auth-shapes/index.js';
import { ProxyRejection } from '../errors.js';
import type { SecretLabel } from './inject.js';
import { decodeBasic, hasScheme } from './request-headers.js';
import type { TokenRun } from './token-scan.js';

/**
 * A stand-in found outside every shape of its secret — a header the rule does not name, another
 * scheme (`Authorization: token <t>`), inside a longer value, or in a Basic password the rule
 * does not expect — replaced where it stands: same header, the text around it kept as it came.
 */
export interface InPlaceSwap {
  /** Lowercased header name. */
  readonly header: string;
  /** In the decoded password of `Authorization: Basic`: the header is encoded again around it. */
  readonly inBasicPassword: boolean;
  readonly standIn: string;
  /** The real value as Node's latin1 header string (its UTF-8 bytes). */
  readonly wire: string;
  /** For a Basic password: the client's username, so the scrubber knows `base64(user:real)`. */
  readonly basicUsername: string | undefined;
}

/** Plans one swap; throws inject_error (before anything is written) when the value cannot go in a header. */
export function planInPlaceSwap(run: TokenRun, standIn: string, real: string, headers: IncomingHttpHeaders, secret: SecretLabel): InPlaceSwap {
  if (real.includes('\r') || real.includes('\n') || real.includes('\0')) {
    throw new ProxyRejection('inject_error', `secret "${secret.name}": the ${run.header} header would contain CR, LF or NUL`, secret.id);
  }
  const basicUsername = run.inBasicPassword ? decodeBasic(headers.authorization)?.username : undefined;
  return { header: run.header, inBasicPassword: run.inBasicPassword, standIn, wire: toWire(real), basicUsername };
}

/** Applies swaps one after the other, so several stand-ins in one header are all replaced. */
export function applyInPlaceSwaps(headers: IncomingHttpHeaders, swaps: readonly InPlaceSwap[]): void {
  for (const swap of swaps) {
    const value = headers[swap.header];
    if (swap.inBasicPassword) {
      if (typeof value === 'string') headers[swap.header] = swapInBasicPassword(value, swap);
    } else if (typeof value === 'string') {
      headers[swap.header] = value.replaceAll(swap.standIn, swap.wire);
    } else if (value !== undefined) {
      headers[swap.header] = value.map((v) => v.replaceAll(swap.standIn, swap.wire));
    }
  }
}

/** `Basic base64(user:…<t>…)` → the same with the real value in the password, the scheme as the client wrote it. */
function swapInBasicPassword(value: string, swap: InPlaceSwap): string {
  if (!hasScheme(value, 'basic ')) return value;
  const decoded = Buffer.from(value.slice(6).trim(), 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  if (colon < 0) return value;
  const swapped = decoded.slice(0, colon + 1) + decoded.slice(colon + 1).replaceAll(swap.standIn, swap.wire);
  return `${value.slice(0, 6)}${Buffer.from(swapped, 'latin1').toString('base64')}`;
}
