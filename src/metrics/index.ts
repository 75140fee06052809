export { createMetrics, READY_CHECKS, type CredproxyMetrics, type AuditQueueStats, type MetricsOptions, type ReadyCheck } from './catalogue.js';
export { subscribeMetrics } from './subscribe.js';
