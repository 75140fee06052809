import type { RejectionCode } from '../errors.js';
import type { CertMintResult } from '../tls/index.js';
import type { CredentialMatch } from './policy.js';

/** One HTTP request the proxy handled (tunnelled or plain), emitted when the client's response ends. */
export interface RequestEvent {
  /** The id sent to the client as X-Credproxy-Request-Id (request-id.ts). */
  readonly requestId: string;
  /** Epoch ms when the request head was received. */
  readonly ts: number;
  readonly sandboxId: string | undefined;
  readonly sandboxName: string | undefined;
  readonly matches: readonly CredentialMatch[];
  readonly method: string;
  readonly host: string;
  /** Path without the query string. */
  readonly path: string;
  /** What the client got (0 when the client went away before a status was sent). */
  readonly status: number;
  readonly upstreamStatus: number | undefined;
  /** Client view: head received → response finished. */
  readonly latencyMs: number;
  /** Upstream dispatch → upstream response finished; undefined when never dispatched. */
  readonly upstreamMs: number | undefined;
  readonly errorCode: RejectionCode | undefined;
  /** For the `outcome` metric label. */
  readonly outcome: 'forwarded' | 'injected' | 'rejected' | 'upstream_error' | 'client_aborted';
  /** On a refusal, every secret a stand-in of which the request carried (ProxyRejection.secretIds). */
  readonly refusedSecretIds: readonly string[];
  /** Request body bytes sent upstream (Content-Length, or counted when chunked). */
  readonly requestBytes: number;
  /** Response body bytes the upstream sent (before any scrubbing). */
  readonly responseBytes: number;
  /**
   * False for a request refused before it reached the request stage (at admission, or by the
   * http parser): the audit trail keeps its connection row only, as Superserve does, or nothing
   * when the request named no sandbox. Metrics and the access log count it all the same.
   */
  readonly audited: boolean;
}

/** One CONNECT tunnel (or plain-http connection to one host), emitted when it closes or is refused. */
export interface ConnectionEvent {
  /** The id of the request that opened it (the CONNECT's, or the plain request's). */
  readonly requestId: string;
  readonly ts: number;
  readonly sandboxId: string | undefined;
  readonly sandboxName: string | undefined;
  readonly host: string;
  readonly dstIp: string | undefined;
  readonly dstPort: number;
  readonly verdict: 'allowed' | 'blocked' | 'failed';
  /** Why: the egress rule's explain(), or the rejection code. */
  readonly matchRule: string;
  /** Bytes the client sent into the tunnel / received from it. */
  readonly bytesSent: number;
  readonly bytesRecv: number;
  readonly errorCode: RejectionCode | undefined;
}

export interface ProxyEventMap {
  request: RequestEvent;
  connection: ConnectionEvent;
  /** +1 when a tunnel opens, -1 when it closes. */
  tunnel: 1 | -1;
  /** Leaf certificate lookups: served from cache, minted, or joined a mint in flight. */
  certCache: 'hit' | 'miss' | 'coalesced';
  /** A leaf certificate minted (its duration) or refused (why). */
  certMint: CertMintResult;
  /** A client's TLS handshake with the proxy failed, by cause (client-tls.ts). */
  clientTlsFailure: ClientTlsFailure;
}

/**
 * Why a client's TLS handshake with the proxy failed: `unknown_ca` the client refused the
 * proxy's certificate (it does not trust the CA), `timeout` no handshake within
 * proxy.handshakeTimeoutMs, `closed` the client hung up without an alert (Node's clients refuse
 * a certificate this way), `protocol` no common version or cipher, or not TLS at all.
 */
export type ClientTlsFailure = 'unknown_ca' | 'timeout' | 'closed' | 'protocol' | 'other';

type Listener<T> = (event: T) => void;

/**
 * The data plane's typed event bus; metrics and audit subscribe. Emitting with no listener
 * costs one array length check, so the proxy emits unconditionally.
 */
export class ProxyEvents {
  readonly #listeners: { [K in keyof ProxyEventMap]: Array<Listener<ProxyEventMap[K]>> } = {
    request: [],
    connection: [],
    tunnel: [],
    certCache: [],
    certMint: [],
    clientTlsFailure: [],
  };

  on<K extends keyof ProxyEventMap>(name: K, listener: Listener<ProxyEventMap[K]>): void {
    this.#listeners[name].push(listener);
  }

  emit<K extends keyof ProxyEventMap>(name: K, event: ProxyEventMap[K]): void {
    const listeners = this.#listeners[name];
    for (let i = 0; i < listeners.length; i++) listeners[i]!(event);
  }
}
