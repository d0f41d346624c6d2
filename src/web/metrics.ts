// Prometheus metrics read from the store at scrape time, so they are right whichever process (or worker)
// did the work: records ingested, detections, alerts, notifications sent/failed/dead-lettered, poll lag
// per tenant and content type, remediation steps. Merged with the process's default registry.
import client from 'prom-client';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

export function storeMetrics(db: Kysely<Database>, base: client.Registry = client.register): client.Registry {
  const reg = new client.Registry();
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: client.Gauge) => Promise<void>) =>
    new client.Gauge({
      name,
      help,
      labelNames,
      registers: [reg],
      async collect() {
        this.reset();
        try {
          await collect(this);
        } catch {
          // A table of a module that is not migrated yet, or the store is down: /readyz says so.
        }
      },
    });

  gauge('tenantwatch_records_ingested', 'Audit records processed for the first time (blobs in retention)', ['outcome'], async (g) => {
    const r = await db
      .selectFrom('ingest_blobs')
      .select([sql<number>`coalesce(sum(records), 0)`.as('records'), sql<number>`coalesce(sum(duplicates), 0)`.as('duplicates'), sql<number>`coalesce(sum(malformed), 0)`.as('malformed')])
      .executeTakeFirst();
    g.set({ outcome: 'new' }, Number(r?.records ?? 0));
    g.set({ outcome: 'duplicate' }, Number(r?.duplicates ?? 0));
    g.set({ outcome: 'malformed' }, Number(r?.malformed ?? 0));
  });
  gauge('tenantwatch_blobs', 'Content blobs by state', ['status'], async (g) => {
    for (const r of await db.selectFrom('ingest_blobs').select(['status', sql<number>`count(*)`.as('n')]).groupBy('status').execute()) g.set({ status: r.status }, Number(r.n));
  });
  gauge('tenantwatch_alerts', 'Alerts by status and severity', ['status', 'severity'], async (g) => {
    for (const r of await db.selectFrom('alerts').select(['status', 'severity', sql<number>`count(*)`.as('n')]).groupBy(['status', 'severity']).execute()) {
      g.set({ status: r.status, severity: r.severity }, Number(r.n));
    }
  });
  gauge('tenantwatch_detections', 'Detections grouped into alerts', ['behaviour'], async (g) => {
    for (const r of await db.selectFrom('alerts').select(['behaviour', sql<number>`coalesce(sum(count), 0)`.as('n')]).groupBy('behaviour').execute()) g.set({ behaviour: r.behaviour }, Number(r.n));
  });
  gauge('tenantwatch_notifications', 'Notifications by channel and state (sent, pending, dead = dead-lettered)', ['channel', 'status'], async (g) => {
    for (const r of await db.selectFrom('notify_outbox').select(['channel', 'status', sql<number>`count(*)`.as('n')]).groupBy(['channel', 'status']).execute()) {
      g.set({ channel: r.channel, status: r.status }, Number(r.n));
    }
  });
  gauge('tenantwatch_notification_attempts_failed', 'Failed delivery attempts by channel', ['channel'], async (g) => {
    const rows = await db
      .selectFrom('notify_attempts')
      .innerJoin('notify_outbox', 'notify_outbox.id', 'notify_attempts.outbox_id')
      .select(['notify_outbox.channel', sql<number>`count(*)`.as('n')])
      .where('notify_attempts.ok', '=', 0)
      .groupBy('notify_outbox.channel')
      .execute();
    for (const r of rows) g.set({ channel: r.channel }, Number(r.n));
  });
  gauge('tenantwatch_poll_lag_seconds', 'Now minus the newest stored record, per tenant and content type', ['tenant', 'content_type'], async (g) => {
    const now = Date.now();
    for (const r of await db.selectFrom('ingest_cursors').select(['tenant_id', 'content_type', 'newest_record_at']).execute()) {
      if (r.newest_record_at) g.set({ tenant: r.tenant_id, content_type: r.content_type }, Math.max(0, (now - Date.parse(r.newest_record_at)) / 1000));
    }
  });
  gauge('tenantwatch_remediation_steps', 'Remediation steps by step and result', ['step', 'status'], async (g) => {
    for (const r of await db.selectFrom('remediation_steps').select(['step', 'status', sql<number>`count(*)`.as('n')]).groupBy(['step', 'status']).execute()) {
      g.set({ step: r.step, status: r.status }, Number(r.n));
    }
  });
  return client.Registry.merge([base, reg]);
}
