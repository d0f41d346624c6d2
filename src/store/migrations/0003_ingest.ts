import type { Kysely } from 'kysely';

// Tables owned by ingest/. Portable types only (see store/schema.ts for the conventions).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('ingest_cursors')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('listed_to', 'text')
    .addColumn('newest_record_at', 'text')
    .addColumn('last_poll_at', 'text')
    .addColumn('last_success_at', 'text')
    .addColumn('last_error', 'text')
    .addColumn('last_error_at', 'text')
    .addColumn('lost_from', 'text')
    .addColumn('lost_to', 'text')
    .addColumn('backoff_until', 'text')
    .addColumn('backoff_level', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('ingest_cursors_pk', ['tenant_id', 'content_type'])
    .execute();
  await db.schema
    .createTable('ingest_blobs')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('content_id', 'text', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('content_uri', 'text', (c) => c.notNull())
    .addColumn('content_created', 'text')
    .addColumn('content_expiration', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('claimed_by', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text')
    .addColumn('last_error', 'text')
    .addColumn('records', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('duplicates', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('malformed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('listed_at', 'text', (c) => c.notNull())
    .addColumn('done_at', 'text')
    .addPrimaryKeyConstraint('ingest_blobs_pk', ['tenant_id', 'content_id'])
    .execute();
  await db.schema.createIndex('ingest_blobs_status').on('ingest_blobs').columns(['status', 'tenant_id']).execute();
  await db.schema.createIndex('ingest_blobs_listed').on('ingest_blobs').columns(['listed_at']).execute();
  await db.schema
    .createTable('ingest_records')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('content_id', 'text', (c) => c.notNull())
    .addColumn('record_type', 'integer')
    .addColumn('operation', 'text')
    .addColumn('user_id', 'text')
    .addColumn('creation_time', 'text')
    .addColumn('raw_json', 'text', (c) => c.notNull())
    .addColumn('raw_truncated', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('stored_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('ingest_records_pk', ['tenant_id', 'record_id'])
    .execute();
  await db.schema.createIndex('ingest_records_stored').on('ingest_records').columns(['stored_at']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('ingest_records').execute();
  await db.schema.dropTable('ingest_blobs').execute();
  await db.schema.dropTable('ingest_cursors').execute();
}
