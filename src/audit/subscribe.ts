import type { ProxyEvents, RequestEvent } from '../proxy/events.js';
import type { AuditQueue } from './queue.js';
import { connectionRow, requestRow } from './record.js';

/**
 * Feeds the proxy's request and connection events into the audit queue. Optional: a daemon that
 * never calls this records nothing and pays nothing.
 */
export function subscribeAudit(events: ProxyEvents, queue: AuditQueue): void {
  events.on('request', (event) => recordRequest(event, queue));
  events.on('connection', (event) => {
    queue.push(connectionRow(event));
  });
}

function recordRequest(event: RequestEvent, queue: AuditQueue): void {
  // Refused before the request stage: its connection row is its trace (docs/contract.md#rejections, as Superserve).
  if (!event.audited) return;
  const { matches, refusedSecretIds } = event;
  if (matches.length === 0 && refusedSecretIds.length === 0) {
    queue.push(requestRow(event, null));
    return;
  }
  for (let i = 0; i < matches.length; i++) {
    const { secretId, rule } = matches[i]!;
    // Two bindings (or places) of one secret in one request still make one row for that secret.
    if (seenBefore(matches, i, secretId)) continue;
    queue.push(requestRow(event, secretId, rule));
    queue.markUsed(secretId, event.ts);
  }
  for (const secretId of refusedSecretIds) {
    if (!seenBefore(matches, matches.length, secretId)) queue.push(requestRow(event, secretId));
  }
}

/** Whether matches[0..end) names secretId; matches holds a handful at most. */
function seenBefore(matches: RequestEvent['matches'], end: number, secretId: string): boolean {
  for (let j = 0; j < end; j++) if (matches[j]!.secretId === secretId) return true;
  return false;
}
