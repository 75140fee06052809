import type { ConnectionEvent, RequestEvent } from '../proxy/events.js';
import type { EventRow } from '../store/events.js';

/**
 * One request row. `secretId` is the secret whose stand-in was found, swapped or refused (null
 * when none); a request carrying several secrets' stand-ins gets one row per secret. `matchRule`
 * says which rule swapped it, e.g. `secret "openai" allows api.openai.com (bearer)` or, for a
 * stand-in swapped where it stood outside the rule's shape, `… (in place: x-debug)`.
 */
export function requestRow(event: RequestEvent, secretId: string | null, matchRule: string | null = null): EventRow {
  return {
    kind: 'request',
    ts: event.ts,
    sandboxId: event.sandboxId ?? null,
    sandboxName: event.sandboxName ?? null,
    secretId,
    host: event.host,
    method: event.method,
    path: event.path,
    status: event.status,
    upstreamStatus: event.upstreamStatus ?? null,
    // Whole milliseconds on the wire, as Superserve's clients expect an integer.
    latencyMs: Math.round(event.latencyMs),
    errorCode: event.errorCode ?? null,
    dstIp: null,
    dstPort: null,
    verdict: null,
    matchRule,
    bytesSent: null,
    bytesRecv: null,
    requestId: event.requestId,
  };
}

/** One connection row per tunnel (or refused CONNECT). */
export function connectionRow(event: ConnectionEvent): EventRow {
  return {
    kind: 'connection',
    ts: event.ts,
    sandboxId: event.sandboxId ?? null,
    sandboxName: event.sandboxName ?? null,
    secretId: null,
    host: event.host,
    method: null,
    path: null,
    status: null,
    upstreamStatus: null,
    latencyMs: null,
    errorCode: event.errorCode ?? null,
    dstIp: event.dstIp ?? null,
    dstPort: event.dstPort,
    verdict: event.verdict,
    matchRule: event.matchRule,
    bytesSent: event.bytesSent,
    bytesRecv: event.bytesRecv,
    requestId: event.requestId,
  };
}
