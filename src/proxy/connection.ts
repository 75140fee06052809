import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { FrozenConfig } from '../config/schema.js';
import type { LeafCertStore } from '../tls/index.js';
import type { ProxyRejection } from '../errors.js';
import type { ConnectionRecord } from './admission.js';
import type { EgressGuard } from './egress.js';
import type { OriginalDestination } from './original-dst.js';
import { authorityFor } from './headers.js';
import type { ProxyEvents } from './events.js';
import type { ProxyPolicy, RequestTarget, SandboxIdentity } from './policy.js';
import type { Upstream } from './upstream-agent.js';

/**
 * Where requests go: fixed per tunnel by the CONNECT authority, or per absolute-URI request.
 * Built once and reused by every request on the tunnel.
 */
export interface ForwardTarget {
  readonly identity: SandboxIdentity | null;
  /** Passed to the policy as is (host lowercased, no brackets). */
  readonly target: RequestTarget;
  /** The Host header sent upstream. */
  readonly authority: string;
  /** undici origin, e.g. `https://api.example.com:443`. */
  readonly origin: string;
  /** The address the egress guard approved. */
  readonly ip: string;
}

/** The target of a tunnel or request admitted to `host:port`, dialled at `ip` (the egress guard's answer). */
export function forwardTarget(identity: SandboxIdentity | null, host: string, port: number, secure: boolean, ip: string): ForwardTarget {
  const authority = authorityFor(host, port, secure);
  return { identity, target: { host, port, secure }, authority, origin: `${secure ? 'https' : 'http'}://${authority}`, ip };
}

/** One client TCP connection to the proxy port: a tunnel or a plain-http keep-alive connection. */
export class ClientConnection {
  readonly raw: Socket;
  /** Set once a CONNECT tunnel is established. */
  tunnel: ForwardTarget | undefined;
  /** The terminated TLS layer of a tunnel. */
  tls: TLSSocket | undefined;
  /** A transparent connection refused at admission: every request on it is answered with this. */
  refusal: ProxyRejection | undefined;
  /** Where a transparent connection was going before the kernel redirected it, when known. */
  originalDestination: OriginalDestination | undefined;
  /** Requests in flight on this connection; the drain waits for 0. */
  active = 0;
  /** The row of the tunnel (CONNECT or transparent TLS) this connection carries, once it has one. */
  record: ConnectionRecord | undefined;
  /** The tunnel's access logger (access-log.ts tunnelLogger), set with `tunnel`. */
  log: Logger | undefined;
  /** Socket byte counts already attributed to a plain-http connection row. */
  #countedRead = 0;
  #countedWritten = 0;

  constructor(raw: Socket) {
    this.raw = raw;
  }

  /**
   * Bytes moved since the previous call, for one plain-http request's connection row: the
   * request head was read before its handler ran, so counting from "now" would miss it.
   */
  takeBytes(): { sent: number; recv: number } {
    const sent = this.raw.bytesRead - this.#countedRead;
    const recv = this.raw.bytesWritten - this.#countedWritten;
    this.#countedRead = this.raw.bytesRead;
    this.#countedWritten = this.raw.bytesWritten;
    return { sent, recv };
  }
}

/** What every stage of the data plane shares; built once by ProxyServer. */
export interface DataPlane {
  readonly config: FrozenConfig;
  readonly policy: ProxyPolicy;
  readonly events: ProxyEvents;
  readonly logger: Logger;
  /** The access log (access-log.ts), when log.level lets info through; decided once. */
  readonly accessLog: Logger | undefined;
  readonly certs: LeafCertStore;
  readonly guard: EgressGuard;
  readonly upstream: Upstream;
  /** Called when a request on `connection` ends; closes the connection while draining. */
  requestEnded(connection: ClientConnection): void;
}
