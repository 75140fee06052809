import type { ProxyEvents, RequestEvent } from '../proxy/events.js';
import type { CredproxyMetrics } from './catalogue.js';

/**
 * Feeds the proxy's events into the metrics. Optional: a daemon that never calls this exports
 * only the default process metrics and the audit queue gauges.
 */
export function subscribeMetrics(events: ProxyEvents, metrics: CredproxyMetrics): void {
  events.on('request', (event) => recordRequest(event, metrics));
  events.on('connection', (event) => {
    // A CONNECT refused before any request was read is a rejection with no request event.
    if (event.verdict === 'blocked' && event.errorCode !== undefined) metrics.rejections[event.errorCode].inc();
  });
  events.on('tunnel', (delta) => metrics.activeTunnels.inc(delta));
  events.on('certCache', (result) => metrics.certCache[result].inc());
}

function recordRequest(event: RequestEvent, metrics: CredproxyMetrics): void {
  metrics.requests[event.outcome].inc();
  metrics.requestDuration.observe(event.latencyMs / 1000);
  if (event.upstreamMs !== undefined) {
    metrics.upstreamDuration.observe(event.upstreamMs / 1000);
    metrics.proxyOverhead.observe(Math.max(0, event.latencyMs - event.upstreamMs) / 1000);
  }
  if (event.errorCode !== undefined) metrics.rejections[event.errorCode].inc();
  // Matches on a refused request were found but never injected.
  if (event.outcome === 'rejected') return;
  const { matches } = event;
  for (let i = 0; i < matches.length; i++) {
    const match = matches[i]!;
    metrics.injection(match.secretName, match.authType).inc();
  }
}
