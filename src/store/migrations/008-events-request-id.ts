/**
 * Each audit and network row keeps the X-Credproxy-Request-Id its client got, so a user can
 * quote it. Adding a nullable column rewrites nothing: older rows read back without one.
 */
export const MIGRATION_008_EVENTS_REQUEST_ID = `
ALTER TABLE events ADD COLUMN request_id TEXT;
`;
