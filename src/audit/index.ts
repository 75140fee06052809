export { AuditQueue, type AuditQueueOptions, type AuditSink, type AuditSinkFailure } from './queue.js';
export { connectionRow, requestRow } from './record.js';
export { startRetention, type Retention, type RetentionOptions } from './retention.js';
export { subscribeAudit } from './subscribe.js';
export { WorkerAuditSink, type WorkerAuditSinkOptions } from './worker-sink.js';
