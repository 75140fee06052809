import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ProxyRejection } from '../errors.js';
import { canonicalHost, canonicalIp, classifyAddress } from './address-class.js';

/** A listener that must never be reachable through the proxy. */
export interface ProtectedAddress {
  readonly address: string;
  readonly port: number;
}

/** Where a host:port may be dialled, and why that was allowed. */
export interface EgressTarget {
  /** The IP to dial (no brackets). */
  readonly ip: string;
  readonly port: number;
  /** For the connection row's match_rule, e.g. `resolve api.example.test:443=127.0.0.1:8443`. */
  readonly reason: string;
}

export type LookupAll = (host: string) => Promise<ReadonlyArray<{ address: string }>>;

export interface EgressGuardOptions {
  /** `upstream.resolve` entries, `host:port=ip:port`; their targets are operator-approved. */
  readonly overrides: readonly string[];
  /**
   * `egress.allowPrivateNetworks`: internal addresses are allowed (the unspecified address and
   * protected listeners never are).
   */
  readonly allowPrivateNetworks: boolean;
  /** Listeners that are never reachable (admin, the proxy itself); read on every check. */
  readonly protectedAddresses: () => ReadonlyArray<ProtectedAddress>;
  /** Name resolution, all addresses; defaults to dns.lookup (getaddrinfo, honours /etc/hosts). */
  readonly lookup?: LookupAll;
}

const systemLookup: LookupAll = (host) => dnsLookup(host, { all: true, verbatim: true });

/**
 * Resolves a target and decides whether it may be dialled (docs/contract.md#egress). Called at CONNECT
 * time, so the client hears 403 before 200, and again inside the upstream dialer, which dials
 * exactly the address it checked, so a DNS answer that changes in between cannot reach inside.
 */
export class EgressGuard {
  readonly #overrides = new Map<string, { ip: string; port: number; entry: string }>();
  readonly #allowPrivate: boolean;
  readonly #protected: () => ReadonlyArray<ProtectedAddress>;
  readonly #lookup: LookupAll;
  /** Addresses of this machine: a listener on 0.0.0.0 / :: is reachable through any of them, and loopback through all of 127/8. */
  readonly #localAddresses: ReadonlySet<string>;

  constructor(options: EgressGuardOptions) {
    for (const entry of options.overrides) {
      const parsed = parseResolveEntry(entry);
      this.#overrides.set(`${canonicalHost(parsed.host) ?? parsed.host}:${parsed.port}`, { ip: parsed.ip, port: parsed.targetPort, entry });
    }
    this.#allowPrivate = options.allowPrivateNetworks;
    this.#protected = options.protectedAddresses;
    this.#lookup = options.lookup ?? systemLookup;
    this.#localAddresses = new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => canonicalIp(i.address))));
  }

  /**
   * The address to dial for host:port, or a ProxyRejection: internal_address_denied (internal or
   * protected address) or upstream_unreachable (the name does not resolve).
   */
  async check(host: string, port: number): Promise<EgressTarget> {
    // Every entry point passes through here, so every spelling of an address is decided as that address.
    const name = canonicalHost(host);
    if (name === undefined) throw new ProxyRejection('upstream_unreachable', `${host} is neither a host name nor an IP address`);
    const override = this.#overrides.get(`${name}:${port}`) ?? this.#overrides.get(`*:${port}`);
    if (override) {
      this.#refuseOwnMachine(override.ip, override.port);
      return { ip: override.ip, port: override.port, reason: `resolve ${override.entry}` };
    }
    const addresses = isIP(name) ? [name] : await this.#resolve(name);
    for (const ip of addresses) {
      this.#refuseOwnMachine(ip, port);
      const cls = classifyAddress(ip);
      if (cls !== 'public' && !this.#allowPrivate) {
        throw new ProxyRejection('internal_address_denied', `${host} resolves to a ${cls} address`);
      }
    }
    const ip = addresses[0]!;
    const cls = classifyAddress(ip);
    return { ip, port, reason: cls === 'public' ? `public ${ip}` : `${cls} ${ip} (egress.allowPrivateNetworks)` };
  }

  async #resolve(host: string): Promise<string[]> {
    // RFC 6761 §6.4: resolvers answer `.invalid` themselves; no query leaves the machine for it.
    if (host === 'invalid' || host.endsWith('.invalid')) throw new ProxyRejection('upstream_unreachable', `${host} does not resolve`);
    let answers: ReadonlyArray<{ address: string }>;
    try {
      answers = await this.#lookup(host);
    } catch {
      throw new ProxyRejection('upstream_unreachable', `${host} does not resolve`);
    }
    if (answers.length === 0) throw new ProxyRejection('upstream_unreachable', `${host} does not resolve`);
    return answers.map((a) => a.address);
  }

  /**
   * The unspecified address (0.0.0.0, ::) is always refused: dialled, it reaches this machine. A
   * protected listener is refused by its port on every local address (127/8, ::1, this machine's
   * own), whatever it is bound to: which of them reach it depends on the bind address and the
   * kernel, and none is ever a legitimate upstream for that port.
   */
  #refuseOwnMachine(ip: string, port: number): void {
    const target = canonicalIp(ip);
    const cls = classifyAddress(target);
    if (cls === 'unspecified') throw new ProxyRejection('internal_address_denied', `${ip} is the unspecified address (this machine)`);
    if (cls !== 'loopback' && !this.#localAddresses.has(target)) return;
    for (const listener of this.#protected()) {
      if (listener.port === port) throw new ProxyRejection('internal_address_denied', "the proxy's own listeners are not reachable through it");
    }
  }
}

/** `host:port=ip:port` (curl --resolve) → parts; the schema has already checked the shape. */
export function parseResolveEntry(entry: string): { host: string; port: number; ip: string; targetPort: number } {
  const eq = entry.indexOf('=');
  const source = entry.slice(0, eq);
  const target = entry.slice(eq + 1);
  const sourceColon = source.lastIndexOf(':');
  const targetColon = target.lastIndexOf(':');
  const ip = target.slice(0, targetColon);
  return {
    host: source.slice(0, sourceColon).toLowerCase(),
    port: Number(source.slice(sourceColon + 1)),
    ip: ip.startsWith('[') ? ip.slice(1, -1) : ip,
    targetPort: Number(target.slice(targetColon + 1)),
  };
}
