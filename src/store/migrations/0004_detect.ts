import type { Kysely } from 'kysely';

// Tables owned by detect/. Portable types only (see store/schema.ts for the conventions).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('detect_state')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value_json', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('detect_state_pk', ['tenant_id', 'key'])
    .execute();
  await db.schema.createIndex('detect_state_updated').on('detect_state').column('updated_at').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('detect_state').ifExists().execute();
}
