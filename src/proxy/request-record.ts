import type { ProxyRejection, RejectionCode } from '../errors.js';
import type { ClientConnection, DataPlane, ForwardTarget } from './connection.js';
import type { RequestEvent } from './events.js';
import type { CredentialMatch } from './policy.js';

const NO_MATCHES: readonly CredentialMatch[] = [];
const NO_SECRETS: readonly string[] = [];

/**
 * A request's outcome (the `outcome` metric label), decided here and nowhere else: a refusal is
 * `upstream_error` when the upstream failed and `rejected` when the proxy refused; otherwise
 * `client_aborted` when the client left before the response ended, else `injected` or `forwarded`.
 */
export function requestOutcome(
  errorCode: RejectionCode | undefined, upstreamFailed: boolean, finished: boolean, injected: boolean,
): RequestEvent['outcome'] {
  if (errorCode !== undefined) return upstreamFailed ? 'upstream_error' : 'rejected';
  if (!finished) return 'client_aborted';
  return injected ? 'injected' : 'forwarded';
}

/** Upstream failures that are the proxy's own refusals: the body cap, and a dial the egress guard stopped. */
const REFUSED_AT_UPSTREAM: ReadonlySet<RejectionCode> = new Set(['body_too_large', 'internal_address_denied']);

/**
 * The request row (CONTRACT §5) of one request on any entry point, tunnelled, plain or upgraded:
 * the forward path fills it in and `finish` emits the single `request` event. While it is open
 * the request counts as in flight on its connection (the drain waits for it).
 */
export class RequestRecord {
  /** Epoch ms when the request head was received. */
  readonly ts = Date.now();
  readonly #started = performance.now();
  matches: readonly CredentialMatch[] = NO_MATCHES;
  upstreamStatus: number | undefined;
  upstreamMs: number | undefined;
  #upstreamStart = 0;
  #errorCode: RejectionCode | undefined;
  #refusedSecretIds: readonly string[] = NO_SECRETS;
  #upstreamFailed = false;
  #finished = false;

  constructor(
    readonly plane: DataPlane, readonly connection: ClientConnection, readonly to: ForwardTarget,
    readonly method: string, readonly path: string,
  ) {
    connection.active++;
  }

  upstreamStarted(): void {
    this.#upstreamStart = performance.now();
  }

  upstreamEnded(): void {
    this.upstreamMs = performance.now() - this.#upstreamStart;
  }

  /** The proxy refused the request (policy, body cap, malformed) before or instead of forwarding it. */
  refused(rejection: ProxyRejection): void {
    this.#refuse(rejection, false);
  }

  /** The upstream exchange failed with `rejection` (unreachable, TLS, timeout, or a refusal at dial time). */
  upstreamFailed(rejection: ProxyRejection): void {
    this.upstreamEnded();
    this.#refuse(rejection, !REFUSED_AT_UPSTREAM.has(rejection.code));
  }

  /**
   * The client's side is over: emits the request event with what the client got (`status`, 0 when
   * no status was sent) and whether the response was sent whole. Later calls do nothing.
   */
  finish(status: number, finished: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    const { plane, to } = this;
    const query = this.path.indexOf('?');
    const event: RequestEvent = {
      ts: this.ts,
      sandboxId: to.identity?.sandboxId,
      sandboxName: to.identity?.sandboxName,
      matches: this.matches,
      method: this.method,
      host: to.target.host,
      path: query === -1 ? this.path : this.path.slice(0, query),
      status,
      upstreamStatus: this.upstreamStatus,
      latencyMs: performance.now() - this.#started,
      upstreamMs: this.upstreamMs,
      errorCode: this.#errorCode,
      outcome: requestOutcome(this.#errorCode, this.#upstreamFailed, finished, this.matches.length > 0),
      refusedSecretIds: this.#refusedSecretIds,
    };
    plane.events.emit('request', event);
    if (plane.logger.isLevelEnabled('debug')) {
      plane.logger.debug({ method: event.method, host: event.host, path: event.path, status, outcome: event.outcome, latencyMs: event.latencyMs }, 'request');
    }
    this.connection.active--;
    plane.requestEnded(this.connection);
  }

  #refuse(rejection: ProxyRejection, upstreamFailed: boolean): void {
    this.#errorCode = rejection.code;
    this.#refusedSecretIds = rejection.secretIds;
    this.#upstreamFailed = upstreamFailed;
    this.plane.logger.info(
      { code: rejection.code, method: this.method, host: this.to.target.host, sandbox: this.to.identity?.sandboxId },
      'request rejected',
    );
  }
}
