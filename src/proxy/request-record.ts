import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyRejection, RejectionCode } from '../errors.js';
import { logRequest } from './access-log.js';
import type { ClientConnection, DataPlane, ForwardTarget } from './connection.js';
import type { RequestEvent } from './events.js';
import type { CredentialMatch, SandboxIdentity } from './policy.js';
import { writeRejection, writeRejectionToSocket } from './reject.js';
import { newRequestId } from './request-id.js';

const NO_MATCHES: readonly CredentialMatch[] = [];
const NO_SECRETS: readonly string[] = [];

/**
 * A request's outcome (the `outcome` metric label), decided here and nowhere else: a refusal is
 * `upstream_error` when the upstream failed and `rejected` when the proxy refused; otherwise
 * `client_aborted` when the client left before the response ended, else `injected` or `forwarded`.
 */
export function requestOutcome(errorCode: RejectionCode | undefined, upstreamFailed: boolean, finished: boolean, injected: boolean): RequestEvent['outcome'] {
  if (errorCode !== undefined) return upstreamFailed ? 'upstream_error' : 'rejected';
  if (!finished) return 'client_aborted';
  return injected ? 'injected' : 'forwarded';
}

/** Upstream failures that are the proxy's own refusals: the body cap, and a dial the egress guard stopped. */
const REFUSED_AT_UPSTREAM: ReadonlySet<RejectionCode> = new Set(['body_too_large', 'internal_address_denied']);
/** Refusals made before any request stage that still say the upstream failed (a name that does not resolve). */
const UPSTREAM_CODES: ReadonlySet<RejectionCode> = new Set(['upstream_unreachable', 'upstream_tls_error', 'upstream_timeout']);

/**
 * The request row (docs/contract.md#audit) of one request on any entry point, tunnelled, plain or upgraded:
 * the forward path fills it in and `finish` emits the single `request` event and writes the
 * access log line. While it is open the request counts as in flight on its connection (the
 * drain waits for it).
 */
export class RequestRecord {
  /** Epoch ms when the request head was received. */
  readonly ts = Date.now();
  readonly #started = performance.now();
  /** Who it is recorded under: the entry point's identity, or the sandbox an unattributed request's stand-ins belong to. */
  identity: SandboxIdentity | null;
  matches: readonly CredentialMatch[] = NO_MATCHES;
  upstreamStatus: number | undefined;
  upstreamMs: number | undefined;
  /** Request body bytes sent upstream. */
  requestBytes = 0;
  /** Response body bytes received from the upstream. */
  responseBytes = 0;
  #upstreamStart = 0;
  #errorCode: RejectionCode | undefined;
  #refusedSecretIds: readonly string[] = NO_SECRETS;
  #upstreamFailed = false;
  #finished = false;

  constructor(
    readonly plane: DataPlane,
    readonly connection: ClientConnection,
    readonly to: ForwardTarget,
    readonly method: string,
    readonly path: string,
    /** Sent to the client as X-Credproxy-Request-Id; a plain request shares its connection row's. */
    readonly id: string = newRequestId(),
  ) {
    this.identity = to.identity;
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
    const { plane, to, connection } = this;
    const event: RequestEvent = {
      requestId: this.id,
      ts: this.ts,
      sandboxId: this.identity?.sandboxId,
      sandboxName: this.identity?.sandboxName,
      matches: this.matches,
      method: this.method,
      host: to.target.host,
      path: withoutQuery(this.path),
      status,
      upstreamStatus: this.upstreamStatus,
      latencyMs: performance.now() - this.#started,
      upstreamMs: this.upstreamMs,
      errorCode: this.#errorCode,
      outcome: requestOutcome(this.#errorCode, this.#upstreamFailed, finished, this.matches.length > 0),
      refusedSecretIds: this.#refusedSecretIds,
      requestBytes: this.requestBytes,
      responseBytes: this.responseBytes,
      audited: true,
    };
    plane.events.emit('request', event);
    if (plane.accessLog !== undefined) {
      // The tunnel's logger names the tunnel's identity; a request recorded under another gets its own line.
      const tunnelLog = connection.tunnel === to && this.identity === to.identity ? connection.log : undefined;
      logRequest(tunnelLog ?? plane.accessLog, event, tunnelLog !== undefined);
    }
    if (connection.record !== undefined) connection.record.requests++;
    connection.active--;
    plane.requestEnded(connection);
  }

  #refuse(rejection: ProxyRejection, upstreamFailed: boolean): void {
    this.#errorCode = rejection.code;
    this.#refusedSecretIds = rejection.secretIds;
    this.#upstreamFailed = upstreamFailed;
  }
}

/** What is known of a request refused outside the request stage. */
export interface RefusedRequest {
  /** The id to send; one is made when absent. */
  readonly id?: string;
  /** Epoch ms and performance.now() when its head arrived; now when absent (a parser error). */
  readonly ts?: number;
  readonly started?: number;
  readonly identity: SandboxIdentity | null | undefined;
  readonly method: string;
  readonly host: string;
  readonly path: string;
}

/**
 * Answers a request the proxy refuses outside the request stage: at admission (CONNECT,
 * absolute-URI, transparent), on a transparent connection refused at admission, or because the
 * http parser could not read it (`status` 400, 408 or 431). Writes the refusal with its request
 * id, on `res` or as raw bytes on `socket`, then reports it like any request: one request event
 * (`audited: false`), one access log line. Every response the proxy makes thus counts once.
 */
export function answerRefusal(
  plane: DataPlane,
  request: RefusedRequest,
  rejection: ProxyRejection,
  to: { res: ServerResponse } | { socket: Duplex },
  status = rejection.status,
): void {
  const id = request.id ?? newRequestId();
  if ('res' in to) writeRejection(to.res, rejection, id);
  else writeRejectionToSocket(to.socket, rejection, id, status);
  const event: RequestEvent = {
    requestId: id,
    ts: request.ts ?? Date.now(),
    sandboxId: request.identity?.sandboxId,
    sandboxName: request.identity?.sandboxName,
    matches: NO_MATCHES,
    method: request.method,
    host: request.host,
    path: withoutQuery(request.path),
    status,
    upstreamStatus: undefined,
    latencyMs: request.started === undefined ? 0 : performance.now() - request.started,
    upstreamMs: undefined,
    errorCode: rejection.code,
    outcome: requestOutcome(rejection.code, UPSTREAM_CODES.has(rejection.code), true, false),
    refusedSecretIds: rejection.secretIds,
    requestBytes: 0,
    responseBytes: 0,
    audited: false,
  };
  plane.events.emit('request', event);
  if (plane.accessLog !== undefined) logRequest(plane.accessLog, event, false);
}

function withoutQuery(path: string): string {
  const query = path.indexOf('?');
  return query === -1 ? path : path.slice(0, query);
}
