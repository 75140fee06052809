import { ProxyRejection, type RejectionCode } from '../errors.js';
import type { DataPlane } from './connection.js';
import type { EgressTarget } from './egress.js';
import type { ConnectionEvent } from './events.js';
import type { SandboxIdentity } from './policy.js';

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
 * One connection row (CONTRACT §5) in the making: a tunnel, a transparent connection, or one
 * absolute-URI / transparent-http request's host. Admission fills in who and why; the entry
 * point adds the bytes and emits it once, when the connection (or request) ends or is refused.
 */
export class ConnectionRecord {
  readonly ts = Date.now();
  identity: SandboxIdentity | null = null;
  verdict: ConnectionEvent['verdict'] = 'blocked';
  /** Why: the egress rule's explanation, or the refusal's detail or code. */
  matchRule = 'bad_request';
  errorCode: RejectionCode | undefined;
  dstIp: string | undefined;
  #emitted = false;

  constructor(
    readonly plane: DataPlane,
    /** The host the client asked for (CONNECT authority, URL, SNI or Host). */
    public host: string,
    /** The destination port the client asked for. */
    public dstPort: number,
  ) {}

  /** A refusal of any stage: `failed` when the upstream could not be reached, else `blocked`. */
  refused(rejection: ProxyRejection): void {
    this.verdict = rejection.code === 'upstream_unreachable' ? 'failed' : 'blocked';
    // The rule's own words (e.g. `network.deny_out 0.0.0.0/0 covers x`) when it gave any.
    this.matchRule = rejection.detail ?? rejection.code;
    this.errorCode = rejection.code;
  }

  /** Admitted but broken afterwards, e.g. the client's TLS handshake failed. */
  failed(why: string): void {
    this.verdict = 'failed';
    this.matchRule = why;
  }

  /** Emits the row; later calls do nothing. */
  emit(bytesSent: number, bytesRecv: number): void {
    if (this.#emitted) return;
    this.#emitted = true;
    this.plane.events.emit('connection', {
      ts: this.ts, sandboxId: this.identity?.sandboxId, sandboxName: this.identity?.sandboxName,
      host: this.host, dstIp: this.dstIp, dstPort: this.dstPort, verdict: this.verdict, matchRule: this.matchRule,
      bytesSent, bytesRecv, errorCode: this.errorCode,
    });
  }
}

/**
 * The one admission stage every entry point runs before anything reaches an upstream
 * (docs/lifecycle.md): identify (407) → the sandbox's egress policy (403 host_denied /
 * host_not_allowed) → resolve and classify (403 internal_address_denied, 502 upstream_unreachable).
 * Fills in `record` as it goes; a refusal is logged once, recorded and rethrown as a ProxyRejection
 * for the entry point to write its own way (before a 200, as an http response, inside TLS).
 */
export async function admit(
  plane: DataPlane, entry: EntryPoint, record: ConnectionRecord, identify: Identify, host: string, port: number,
): Promise<Admission> {
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

/** Records and logs a refusal made before admission could run (a malformed target, no host). */
export function refuse(plane: DataPlane, entry: EntryPoint, record: ConnectionRecord, rejection: ProxyRejection): void {
  record.refused(rejection);
  plane.logger.info({ entry, code: rejection.code, detail: rejection.detail, host: record.host, sandbox: record.identity?.sandboxId }, 'admission refused');
}
