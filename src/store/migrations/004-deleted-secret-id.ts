/**
 * Deleting a secret sets its bindings' `secret_id` to NULL (the foreign key); the id is kept here
 * so a stand-in still used afterwards is audited under the secret it belonged to (docs/contract.md#audit).
 */
export const MIGRATION_004_DELETED_SECRET_ID = `
ALTER TABLE bindings ADD COLUMN deleted_secret_id TEXT;
`;
