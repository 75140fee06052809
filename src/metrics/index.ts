export { createMetrics, type CredproxyMetrics, type AuditQueueStats, type MetricsOptions } from './catalogue.js';
export { subscribeMetrics } from './subscribe.js';
