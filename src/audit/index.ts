export { AuditQueue, type AuditQueueOptions, type AuditSink } from './queue.js';
export { connectionRow, requestRow } from './record.js';
export { startRetention, type Retention, type RetentionOptions } from './retention.js';
export { subscribeAudit } from './subscribe.js';
