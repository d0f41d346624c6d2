import type { Kysely } from 'kysely';

// The cluster-wide request budget (src/scale/budget.ts): per window × tenant × API, how many requests the
// processes have reserved. Rows only live for a few windows (pruned by the processes). Portable types only.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('request_budget')
    .addColumn('window_start', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('api', 'text', (c) => c.notNull())
    .addColumn('reserved', 'integer', (c) => c.notNull())
    .addColumn('last_grant', 'integer', (c) => c.notNull())
    // Window first: pruning deletes a range of windows through the primary key.
    .addPrimaryKeyConstraint('request_budget_pk', ['window_start', 'tenant_id', 'api'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('request_budget').execute();
}
