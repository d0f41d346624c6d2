import type { Kysely } from 'kysely';
import { autoId } from '../portable.ts';

// Tables owned by notify/. Portable types only (see store/schema.ts for the conventions).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('notify_outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('view_json', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text')
    .execute();
  await db.schema.createIndex('notify_outbox_due').on('notify_outbox').columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('notify_outbox_alert').on('notify_outbox').columns(['alert_id']).execute();
  await db.schema
    .createTable('notify_attempts')
    .addColumn('id', 'integer', autoId(db))
    .addColumn('outbox_id', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('ok', 'integer', (c) => c.notNull())
    .addColumn('retry', 'integer', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('notify_attempts_outbox').on('notify_attempts').columns(['outbox_id', 'attempt']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('notify_attempts').execute();
  await db.schema.dropTable('notify_outbox').execute();
}
