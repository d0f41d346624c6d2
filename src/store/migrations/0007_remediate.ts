import type { Kysely } from 'kysely';
import { autoId } from '../portable.ts';

// Tables owned by remediate/. Portable types only (see store/schema.ts for the conventions).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('remediation_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('origin', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('dry_run', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('undo_of', 'text')
    .addColumn('steps_json', 'text', (c) => c.notNull())
    .addColumn('options_json', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .execute();
  await db.schema.createIndex('remediation_runs_alert').on('remediation_runs').columns(['alert_id', 'started_at']).execute();
  await db.schema.createIndex('remediation_runs_started').on('remediation_runs').column('started_at').execute();
  await db.schema
    .createTable('remediation_steps')
    .addColumn('id', 'integer', autoId(db))
    .addColumn('run_id', 'text', (c) => c.notNull().references('remediation_runs.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('before_json', 'text')
    .addColumn('after_json', 'text')
    .addColumn('items_json', 'text')
    .addColumn('error_json', 'text')
    .addColumn('undoable', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('undone_by', 'text')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('remediation_steps_run').on('remediation_steps').columns(['run_id', 'seq']).unique().execute();
  await db.schema
    .createTable('remediation_link_uses')
    .addColumn('nonce', 'text', (c) => c.primaryKey())
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('run_id', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('origin', 'text')
    .addColumn('used_at', 'text', (c) => c.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('remediation_link_uses').execute();
  await db.schema.dropTable('remediation_steps').execute();
  await db.schema.dropTable('remediation_runs').execute();
}
