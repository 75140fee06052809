import type { Logger } from 'pino';
import type { ConnectionEvent, RequestEvent } from './events.js';
import type { SandboxIdentity } from './policy.js';

/**
 * The access log: one `info` line per request (`msg: "request"`) and one per tunnel when it
 * closes (`msg: "tunnel"`), with the fields of the audit row and the request id the client got
 * (docs/operations.md §4). Built from explicit fields only: never a header, a value, a token
 * or a query string. Field names are the audit row's, so a line and a row read alike.
 */

/**
 * The fields every request in one tunnel shares, bound once as a pino child: pino serialises
 * child bindings when the child is made, not on every line.
 */
export function tunnelLogger(logger: Logger, tunnelId: string, identity: SandboxIdentity | null, host: string): Logger {
  return logger.child({ tunnel_id: tunnelId, sandbox_id: identity?.sandboxId, sandbox_name: identity?.sandboxName, host });
}

/** One request's line; `bound` when `logger` is a tunnelLogger (sandbox and host already in it). */
export function logRequest(logger: Logger, event: RequestEvent, bound: boolean): void {
  logger.info(
    {
      request_id: event.requestId,
      sandbox_id: bound ? undefined : event.sandboxId,
      sandbox_name: bound ? undefined : event.sandboxName,
      host: bound ? undefined : event.host,
      secrets: secretNames(event),
      secret_ids: event.refusedSecretIds.length === 0 ? undefined : event.refusedSecretIds,
      method: event.method,
      path: event.path,
      status: event.status,
      upstream_status: event.upstreamStatus,
      latency_ms: Math.round(event.latencyMs),
      request_bytes: event.requestBytes,
      response_bytes: event.responseBytes,
      error_code: event.errorCode,
      outcome: event.outcome,
    },
    'request',
  );
}

/** One tunnel's line, when it closes. */
export function logTunnel(logger: Logger, event: ConnectionEvent, durationMs: number, requests: number): void {
  logger.info(
    {
      request_id: event.requestId,
      sandbox_id: event.sandboxId,
      sandbox_name: event.sandboxName,
      host: event.host,
      dst_ip: event.dstIp,
      dst_port: event.dstPort,
      verdict: event.verdict,
      match_rule: event.matchRule,
      error_code: event.errorCode,
      bytes_sent: event.bytesSent,
      bytes_recv: event.bytesRecv,
      duration_ms: Math.round(durationMs),
      requests,
    },
    'tunnel',
  );
}

/** The names of the secrets whose stand-ins were swapped, comma-separated; undefined when none. */
function secretNames(event: RequestEvent): string | undefined {
  const { matches } = event;
  if (matches.length === 0) return undefined;
  if (matches.length === 1) return matches[0]!.secretName;
  return [...new Set(matches.map((m) => m.secretName))].join(',');
}
