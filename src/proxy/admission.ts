import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProxyRejection, type RejectionCode } from '../errors.js';
import { logTunnel } from './access-log.js';
import type { DataPlane } from './connection.js';
import type { EgressTarget } from './egress.js';
import type { ClientTlsFailure, ConnectionEvent } from './events.js';
import type { SandboxIdentity } from './policy.js';
import { newRequestId } from './request-id.js';
import { answerRefusal } from './request-record.js';

/** Which entry point admitted a connection or request, for the refusal's log line. */
export type EntryPoint = 'connect' | 'absolute-uri' | 'transparent-tls' | 'transparent-http';

/**
 * Who is calling, as an entry point knows it: Proxy-Authorization for the explicit proxy, the
 * listener's bound sandbox or the source address for transparent listeners. Throws
 * ProxyRejection('proxy_auth_required'); null is an unattributed caller (proxy.requireAuth false).
 */
export type Identify = () => SandboxIdentity | null;

/** What admission established: who, and the address the egress guard approved for host:port. */
export interface Admission {
  readonly identity: SandboxIdentity | null;
  readonly egress: EgressTarget;
}

/**
 * One connection row (docs/contract.md#audit) in the making: a tunnel, a transparent connection, or one
 * absolute-URI / transparent-http request's host. Admission fills in who and why; the entry
 * point adds the bytes and emits it once, when the connection (or request) ends or is refused.
 * A tunnel's row also writes the tunnel's access log line, unless the tunnel was refused in
 * answer to its CONNECT: that request's line (answer) already tells it.
 */
export class ConnectionRecord {
  /** The request id of the CONNECT or plain request that opened it: the id its client got. */
  readonly id = newRequestId();
  readonly ts = Date.now();
  readonly started = performance.now();
  identity: SandboxIdentity | null = null;
  verdict: ConnectionEvent['verdict'] = 'blocked';
  /** Why: the egress rule's explanation, or the refusal's detail or code. */
  matchRule = 'bad_request';
  errorCode: RejectionCode | undefined;
  dstIp: string | undefined;
  /** Requests served in this tunnel, for its access log line. */
  requests = 0;
  #answered = false;
  #emitted = false;

  constructor(
    readonly plane: DataPlane,
    /** The host the client asked for (CONNECT authority, URL, SNI or Host). */
    public host: string,
    /** The destination port the client asked for. */
    public dstPort: number,
    /** A tunnel (CONNECT, transparent TLS) rather than one plain request's row. */
    readonly tunnel = false,
  ) {}

  /** A refusal of any stage: `failed` when the upstream could not be reached, else `blocked`. */
  refused(rejection: ProxyRejection): void {
    this.verdict = rejection.code === 'upstream_unreachable' ? 'failed' : 'blocked';
    // The rule's own words (e.g. `network.deny_out 0.0.0.0/0 covers x`) when it gave any.
    this.matchRule = rejection.detail ?? rejection.code;
    this.errorCode = rejection.code;
  }

  /**
   * Answers the request that opened this connection (`method` `path`, e.g. the CONNECT) with
   * `rejection`, already recorded, under this row's id (request-record.ts answerRefusal).
   */
  answer(rejection: ProxyRejection, to: { res: ServerResponse } | { socket: Duplex }, method: string, path: string): void {
    this.#answered = true;
    answerRefusal(
      this.plane,
      {
        id: this.id,
        ts: this.ts,
        started: this.started,
        identity: this.identity,
        method,
        host: this.host,
        path,
      },
      rejection,
      to,
    );
  }

  /** Admitted, but the client's TLS handshake failed: `failed`, and a clientTlsFailure event. */
  clientTlsFailed(cause: ClientTlsFailure, code: string | undefined): void {
    this.verdict = 'failed';
    this.matchRule = code === undefined ? `client TLS handshake failed: ${cause}` : `client TLS handshake failed: ${cause} (${code})`;
    this.plane.events.emit('clientTlsFailure', cause);
  }

  /** Emits the row; later calls do nothing. */
  emit(bytesSent: number, bytesRecv: number): void {
    if (this.#emitted) return;
    this.#emitted = true;
    const event: ConnectionEvent = {
      requestId: this.id,
      ts: this.ts,
      sandboxId: this.identity?.sandboxId,
      sandboxName: this.identity?.sandboxName,
      host: this.host,
      dstIp: this.dstIp,
      dstPort: this.dstPort,
      verdict: this.verdict,
      matchRule: this.matchRule,
      bytesSent,
      bytesRecv,
      errorCode: this.errorCode,
    };
    this.plane.events.emit('connection', event);
    const log = this.plane.accessLog;
    if (this.tunnel && !this.#answered && log !== undefined) logTunnel(log, event, performance.now() - this.started, this.requests);
  }
}

/**
 * The one admission stage every entry point runs before anything reaches an upstream
 * (docs/lifecycle.md): identify (407) → the sandbox's egress policy (403 host_denied /
 * host_not_allowed) → resolve and classify (403 internal_address_denied, 502 upstream_unreachable).
 * Fills in `record` as it goes; a refusal is recorded and rethrown as a ProxyRejection for the
 * entry point to answer its own way (before a 200, as an http response, inside TLS).
 */
export async function admit(plane: DataPlane, entry: EntryPoint, record: ConnectionRecord, identify: Identify, host: string, port: number): Promise<Admission> {
  try {
    const identity = identify();
    record.identity = identity;
    plane.policy.checkEgress(identity, host);
    const egress = await plane.guard.check(host, port);
    record.verdict = 'allowed';
    record.matchRule = egress.reason;
    record.dstIp ??= egress.ip;
    return { identity, egress };
  } catch (err) {
    const rejection = err instanceof ProxyRejection ? err : new ProxyRejection('bad_request');
    refuse(plane, entry, record, rejection);
    throw rejection;
  }
}

/**
 * Records a refusal made before admission could run (a malformed target, no host); the entry
 * point then answers it (ConnectionRecord.answer), whose access log line tells it.
 */
export function refuse(plane: DataPlane, entry: EntryPoint, record: ConnectionRecord, rejection: ProxyRejection): void {
  record.refused(rejection);
  if (plane.logger.isLevelEnabled('debug'))
    plane.logger.debug({ entry, request_id: record.id, code: rejection.code, detail: rejection.detail, host: record.host }, 'admission refused');
}
