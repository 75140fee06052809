import type { RejectionCode } from '../errors.js';
import type { CredentialMatch } from './policy.js';

/** One HTTP request the proxy handled (tunnelled or plain), emitted when the client's response ends. */
export interface RequestEvent {
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
}

/** One CONNECT tunnel (or plain-http connection to one host), emitted when it closes or is refused. */
export interface ConnectionEvent {
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
}

type Listener<T> = (event: T) => void;

/**
 * The data plane's typed event bus; metrics and audit subscribe. Emitting with no listener
 * costs one array length check, so the proxy emits unconditionally.
 */
export class ProxyEvents {
  readonly #listeners: { [K in keyof ProxyEventMap]: Array<Listener<ProxyEventMap[K]>> } = {
    request: [], connection: [], tunnel: [], certCache: [],
  };

  on<K extends keyof ProxyEventMap>(name: K, listener: Listener<ProxyEventMap[K]>): void {
    this.#listeners[name].push(listener);
  }

  emit<K extends keyof ProxyEventMap>(name: K, event: ProxyEventMap[K]): void {
    const listeners = this.#listeners[name];
    for (let i = 0; i < listeners.length; i++) listeners[i]!(event);
  }
}
