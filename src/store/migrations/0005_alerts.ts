import type { Kysely } from 'kysely';
import { autoId } from '../portable.ts';

// Tables owned by alerts/ (+ the enrich/ user baseline). Portable types only (see store/schema.ts).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('alerts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('rule_id', 'text', (c) => c.notNull())
    .addColumn('behaviour', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('group_key', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('base_severity', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('suppressed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('suppressed_reason', 'text')
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('client_ip', 'text')
    .addColumn('enrichment_json', 'text')
    .addColumn('first_seen', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('snoozed_until', 'text')
    .addColumn('acknowledged_at', 'text')
    .addColumn('acknowledged_by', 'text')
    .addColumn('resolved_at', 'text')
    .addColumn('resolved_by', 'text')
    .execute();
  await db.schema.createIndex('alerts_group').on('alerts').columns(['group_key', 'last_seen']).execute();
  await db.schema.createIndex('alerts_status_seen').on('alerts').columns(['status', 'first_seen']).execute();
  await db.schema.createIndex('alerts_tenant').on('alerts').columns(['tenant_id', 'first_seen']).execute();
  await db.schema
    .createTable('alert_evidence')
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('client_ip', 'text')
    .addColumn('facts_json', 'text')
    .addColumn('added_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('alert_evidence_pk', ['alert_id', 'record_id'])
    .execute();
  // "Is this record already in an alert?" is asked for every detection.
  await db.schema.createIndex('alert_evidence_record').on('alert_evidence').columns(['record_id']).execute();
  await db.schema
    .createTable('alert_activity')
    .addColumn('id', 'integer', autoId(db))
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('detail_json', 'text')
    .execute();
  await db.schema.createIndex('alert_activity_alert').on('alert_activity').columns(['alert_id', 'id']).execute();
  await db.schema
    .createTable('alert_exclusions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text')
    .addColumn('user_id', 'text')
    .addColumn('behaviour', 'text')
    .addColumn('rule_id', 'text')
    .addColumn('destination', 'text')
    .addColumn('ip_range', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('user_baseline')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('user_baseline_pk', ['tenant_id', 'user_id', 'kind', 'value'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('user_baseline').execute();
  await db.schema.dropTable('alert_exclusions').execute();
  await db.schema.dropTable('alert_activity').execute();
  await db.schema.dropTable('alert_evidence').execute();
  await db.schema.dropTable('alerts').execute();
}
