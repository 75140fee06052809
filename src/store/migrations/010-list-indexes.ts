/**
 * Indexes for the list endpoints' keyset paging: sandboxes and secrets are listed by
 * (created_at, rowid), and a page starts after the last one's key (store/list-page.ts), so each
 * page reads its own rows, not every row before it.
 */
export const MIGRATION_010_LIST_INDEXES = `
CREATE INDEX sandboxes_created ON sandboxes(created_at);
CREATE INDEX secrets_created ON secrets(created_at);
`;
