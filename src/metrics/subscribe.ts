import type { ProxyEvents, RequestEvent } from '../proxy/events.js';
import type { CredproxyMetrics, StatusClass } from './catalogue.js';

/** Status code → class, for 100–599; anything else is not counted. */
const CLASSES: readonly (StatusClass | undefined)[] = [undefined, '1xx', '2xx', '3xx', '4xx', '5xx'];

/**
 * Feeds the proxy's events into the metrics. Optional: a daemon that never calls this exports
 * only the default process metrics and the audit queue gauges.
 *
 * Accounting (docs/operations.md §5): every response the proxy answers is one `request` event,
 * refusals at CONNECT time and parser errors included, so `credproxy_requests_total` counts
 * each once; every refusal is one `credproxy_rejections_total{reason}`, so the rejections sum
 * to `requests_total{outcome=~"rejected|upstream_error"}`.
 */
export function subscribeMetrics(events: ProxyEvents, metrics: CredproxyMetrics): void {
  events.on('request', (event) => recordRequest(event, metrics));
  events.on('connection', (event) => {
    metrics.clientBytes.received.inc(event.bytesSent);
    metrics.clientBytes.sent.inc(event.bytesRecv);
  });
  events.on('tunnel', (delta) => {
    metrics.activeTunnels.inc(delta);
    if (delta === 1) metrics.tunnelsOpened.inc();
  });
  events.on('certCache', (result) => metrics.certCache[result].inc());
  events.on('certMint', (result) => {
    if ('ms' in result) metrics.certMintDuration.observe(result.ms / 1000);
    else metrics.certMintErrors[result.error].inc();
  });
  events.on('clientTlsFailure', (cause) => metrics.clientTlsFailures[cause].inc());
}

function recordRequest(event: RequestEvent, metrics: CredproxyMetrics): void {
  metrics.requests[event.outcome].inc();
  metrics.requestDuration.observe(event.latencyMs / 1000);
  if (event.upstreamMs !== undefined) {
    metrics.upstreamDuration.observe(event.upstreamMs / 1000);
    metrics.proxyOverhead.observe(Math.max(0, event.latencyMs - event.upstreamMs) / 1000);
  }
  if (event.requestBytes > 0) metrics.upstreamBytes.sent.inc(event.requestBytes);
  if (event.responseBytes > 0) metrics.upstreamBytes.received.inc(event.responseBytes);
  if (event.errorCode !== undefined) metrics.rejections[event.errorCode].inc();
  // Matches on a refused request were found but never injected.
  if (event.outcome === 'rejected') return;
  const { matches, upstreamStatus } = event;
  const statusClass = upstreamStatus === undefined ? undefined : CLASSES[Math.floor(upstreamStatus / 100)];
  for (let i = 0; i < matches.length; i++) {
    const match = matches[i]!;
    metrics.injection(match.secretName, match.authType).inc();
    if (statusClass !== undefined && !namedBefore(matches, i)) metrics.upstreamResponses(match.secretName)[statusClass].inc();
  }
}

/** Whether a match before `i` names the same secret (two bindings of one secret answer once). */
function namedBefore(matches: RequestEvent['matches'], i: number): boolean {
  for (let j = 0; j < i; j++) if (matches[j]!.secretName === matches[i]!.secretName) return true;
  return false;
}
