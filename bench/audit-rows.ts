import type { EventRow } from '../src/store/events.js';

/**
 * The fields of an audit row for a request whose stand-in was swapped, as the audit subscriber
 * writes it, without the ids and time each bench picks for its rows.
 */
export const SWAPPED_REQUEST = {
  kind: 'request',
  method: 'POST',
  path: '/v1/chat/completions',
  status: 200,
  upstreamStatus: 200,
  latencyMs: 412,
  dstIp: null,
  dstPort: null,
  verdict: null,
  matchRule: null,
  bytesSent: null,
  bytesRecv: null,
} as const satisfies Partial<EventRow>;
