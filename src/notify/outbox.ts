// The transactional outbox: rows written in the same transaction as the alert change they announce, one
// per routed channel. The row id is the idempotency key receivers see (stable across retries/crashes).
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { severityRank, type Severity } from '../model.ts';
import type { NotificationView } from './types.ts';

export interface Route {
  channels: readonly string[];
  tenants?: readonly string[];
  minSeverity?: Severity;
  behaviours?: readonly string[];
}

export interface RoutingConfig {
  channels: ReadonlyArray<{ name: string }>;
  routes: readonly Route[];
}

/** Channel names an alert event goes to: the union of matching routes; no routes = every channel. */
export function routeChannels(cfg: RoutingConfig, v: Pick<NotificationView, 'tenantId' | 'tenantName' | 'severity' | 'behaviour'>): string[] {
  const known = cfg.channels.map((c) => c.name);
  if (cfg.routes.length === 0) return known;
  const out = new Set<string>();
  for (const r of cfg.routes) {
    if (r.tenants && !r.tenants.some((t) => t === v.tenantId || (v.tenantName !== undefined && t.toLowerCase() === v.tenantName.toLowerCase()))) continue;
    if (r.minSeverity && severityRank(v.severity) < severityRank(r.minSeverity)) continue;
    if (r.behaviours && !r.behaviours.includes(v.behaviour)) continue;
    for (const c of r.channels) if (known.includes(c)) out.add(c);
  }
  return [...out];
}

export function outboxKey(alertId: string, event: string, channel: string): string {
  return `${alertId}.${event}.${channel}`;
}

/** Writes one pending row per channel (inside the caller's transaction). Returns the ids written. */
export async function enqueueNotifications(trx: Kysely<Database>, view: NotificationView, eventKey: string, channels: readonly string[], now: string): Promise<string[]> {
  const ids: string[] = [];
  for (const channel of channels) {
    const id = outboxKey(view.alertId, eventKey, channel);
    const r = await trx
      .insertInto('notify_outbox')
      .values({
        id,
        alert_id: view.alertId,
        event: view.event,
        channel,
        status: 'pending',
        attempts: 0,
        next_attempt_at: now,
        lease_owner: null,
        lease_until: null,
        last_error: null,
        view_json: JSON.stringify(view),
        created_at: now,
        sent_at: null,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) > 0) ids.push(id);
  }
  return ids;
}

export interface NotificationRecord {
  id: string;
  channel: string;
  event: string;
  status: string;
  attempts: number;
  createdAt: string;
  sentAt: string | null;
  nextAttemptAt: string;
  lastError: string | null;
  tries: Array<{ attempt: number; at: string; ok: boolean; retry: boolean; error: string | null; durationMs: number }>;
}

/** The notifications of one alert, with every attempt (alert detail). */
export async function notificationsForAlert(db: Kysely<Database>, alertId: string): Promise<NotificationRecord[]> {
  const rows = await db.selectFrom('notify_outbox').selectAll().where('alert_id', '=', alertId).orderBy('created_at').orderBy('id').execute();
  if (rows.length === 0) return [];
  const tries = await db
    .selectFrom('notify_attempts')
    .selectAll()
    .where(
      'outbox_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    channel: r.channel,
    event: r.event,
    status: r.status,
    attempts: r.attempts,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    tries: tries
      .filter((t) => t.outbox_id === r.id)
      .map((t) => ({ attempt: t.attempt, at: t.at, ok: t.ok === 1, retry: t.retry === 1, error: t.error, durationMs: t.duration_ms })),
  }));
}

export interface NotifyHealth {
  pending: number;
  sending: number;
  sent: number;
  dead: number;
  oldestPendingAt: string | null;
  deadLetters: Array<{ id: string; alertId: string; channel: string; attempts: number; lastError: string | null; createdAt: string }>;
  byChannel: Record<string, { pending: number; dead: number; lastError: string | null }>;
}

/** Outbox health: queue depth, dead letters (delivery gave up after notify.maxAttempts), per channel. */
export async function notifyHealth(db: Kysely<Database>): Promise<NotifyHealth> {
  const counts = await db.selectFrom('notify_outbox').select(['status', 'channel']).select((eb) => eb.fn.countAll<number>().as('n')).groupBy(['status', 'channel']).execute();
  const h: NotifyHealth = { pending: 0, sending: 0, sent: 0, dead: 0, oldestPendingAt: null, deadLetters: [], byChannel: {} };
  for (const c of counts) {
    const n = Number(c.n);
    if (c.status === 'pending' || c.status === 'sending' || c.status === 'sent' || c.status === 'dead') h[c.status] += n;
    const ch = (h.byChannel[c.channel] ??= { pending: 0, dead: 0, lastError: null });
    if (c.status === 'pending' || c.status === 'sending') ch.pending += n;
    if (c.status === 'dead') ch.dead += n;
  }
  const oldest = await db.selectFrom('notify_outbox').select('created_at').where('status', 'in', ['pending', 'sending']).orderBy('created_at').limit(1).executeTakeFirst();
  h.oldestPendingAt = oldest?.created_at ?? null;
  const dead = await db.selectFrom('notify_outbox').selectAll().where('status', '=', 'dead').orderBy('created_at', 'desc').limit(100).execute();
  h.deadLetters = dead.map((d) => ({ id: d.id, alertId: d.alert_id, channel: d.channel, attempts: d.attempts, lastError: d.last_error, createdAt: d.created_at }));
  const errs = await db.selectFrom('notify_outbox').select(['channel', 'last_error']).where('last_error', 'is not', null).where('status', '!=', 'sent').orderBy('created_at', 'desc').limit(200).execute();
  for (const e of errs) {
    const ch = (h.byChannel[e.channel] ??= { pending: 0, dead: 0, lastError: null });
    ch.lastError ??= e.last_error;
  }
  return h;
}

/** Puts dead-lettered rows back in the queue (after the channel is fixed). */
export async function retryDeadLetters(db: Kysely<Database>, now: string, channel?: string): Promise<number> {
  let q = db.updateTable('notify_outbox').set({ status: 'pending', attempts: 0, next_attempt_at: now, lease_owner: null, lease_until: null }).where('status', '=', 'dead');
  if (channel) q = q.where('channel', '=', channel);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows);
}
