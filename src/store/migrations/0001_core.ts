import type { Kysely } from 'kysely';
import { autoId } from '../portable.ts';

// Same file for SQLite and PostgreSQL: portable types only (text, integer, bigint-free).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('tenants')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('default_domain', 'text')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('added_at', 'text', (c) => c.notNull())
    .addColumn('context_json', 'text')
    .addColumn('context_loaded_at', 'text')
    .addColumn('health_json', 'text')
    .addColumn('health_checked_at', 'text')
    .execute();
  await db.schema
    .createTable('audit_trail')
    .addColumn('id', 'integer', autoId(db))
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('subject', 'text')
    .addColumn('detail_json', 'text')
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_trail').execute();
  await db.schema.dropTable('tenants').execute();
  await db.schema.dropTable('settings').execute();
}
