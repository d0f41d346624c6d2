// Reading and changing alerts: list (the API's shape), detail (evidence, enrichment, notifications,
// remediation runs, activity), acknowledge / resolve / snooze / reopen with an activity entry each.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { SEVERITIES, severityRank, type Severity } from '../model.ts';
import { OperatorError } from '../errors.ts';
import { notificationsForAlert, type NotificationRecord } from '../notify/outbox.ts';
import type { AlertEnrichment } from './record.ts';

export const ALERT_STATUSES = ['open', 'acknowledged', 'snoozed', 'resolved', 'suppressed'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export interface AlertSummary {
  id: string;
  ruleId: string;
  behaviour: string;
  severity: Severity;
  tenantId: string;
  userId: string;
  status: AlertStatus;
  count: number;
  firstSeen: string;
  lastSeen: string;
  summary: string;
  target: string | null;
  suppressed: boolean;
  suppressedReason: string | null;
  snoozedUntil: string | null;
  clientIp: string | null;
}

type Row = Database['alerts'];

/** A snooze that has run out reads as open. */
export function effectiveStatus(r: Pick<Row, 'status' | 'snoozed_until'>, now: string): AlertStatus {
  if (r.status === 'snoozed' && (r.snoozed_until ?? '') <= now) return 'open';
  return r.status as AlertStatus;
}

export function toSummary(r: Row, now: string): AlertSummary {
  return {
    id: r.id,
    ruleId: r.rule_id,
    behaviour: r.behaviour,
    severity: r.severity as Severity,
    tenantId: r.tenant_id,
    userId: r.user_id,
    status: effectiveStatus(r, now),
    count: r.count,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    summary: r.summary,
    target: r.target || null,
    suppressed: r.suppressed === 1,
    suppressedReason: r.suppressed_reason,
    snoozedUntil: r.status === 'snoozed' ? r.snoozed_until : null,
    clientIp: r.client_ip,
  };
}

export interface ListQuery {
  status?: AlertStatus;
  tenantId?: string;
  userId?: string;
  behaviour?: string;
  minSeverity?: Severity;
  limit?: number;
  /** The `next` of a previous page. */
  cursor?: string;
  now?: string;
}

function encodeCursor(r: Pick<Row, 'first_seen' | 'id'>): string {
  return Buffer.from(`${r.first_seen}|${r.id}`, 'utf8').toString('base64url');
}

function decodeCursor(c: string): { firstSeen: string; id: string } | undefined {
  const s = Buffer.from(c.slice(0, 200), 'base64url').toString('utf8');
  const i = s.indexOf('|');
  return i > 0 ? { firstSeen: s.slice(0, i), id: s.slice(i + 1) } : undefined;
}

/** Newest first (by first seen); `next` is an opaque cursor or null. */
export async function listAlerts(db: Kysely<Database>, q: ListQuery = {}): Promise<{ items: AlertSummary[]; next: string | null }> {
  const now = q.now ?? new Date().toISOString();
  const limit = Math.max(1, Math.min(q.limit ?? 50, 500));
  let s = db.selectFrom('alerts').selectAll();
  if (q.status === 'open') s = s.where((eb) => eb.or([eb('status', '=', 'open'), eb.and([eb('status', '=', 'snoozed'), eb('snoozed_until', '<=', now)])]));
  else if (q.status === 'snoozed') s = s.where('status', '=', 'snoozed').where('snoozed_until', '>', now);
  else if (q.status) s = s.where('status', '=', q.status);
  if (q.tenantId) s = s.where('tenant_id', '=', q.tenantId);
  if (q.userId) s = s.where('user_id', '=', q.userId);
  if (q.behaviour) s = s.where('behaviour', '=', q.behaviour);
  if (q.minSeverity) {
    s = s.where('severity', 'in', SEVERITIES.filter((x) => severityRank(x) >= severityRank(q.minSeverity!)));
  }
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    if (c) s = s.where((eb) => eb.or([eb('first_seen', '<', c.firstSeen), eb.and([eb('first_seen', '=', c.firstSeen), eb('id', '<', c.id)])]));
  }
  const rows = await s.orderBy('first_seen', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  return { items: page.map((r) => toSummary(r, now)), next: rows.length > limit ? encodeCursor(page[page.length - 1]) : null };
}

export interface EvidenceItem {
  recordId: string;
  occurredAt: string;
  severity: string;
  clientIp: string | null;
  facts: unknown;
}

export interface ActivityItem {
  at: string;
  actor: string;
  action: string;
  detail: unknown;
}

export interface AlertDetail extends AlertSummary {
  baseSeverity: Severity;
  attempt: boolean;
  createdAt: string;
  updatedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  enrichment: AlertEnrichment | null;
  evidence: EvidenceItem[];
  /** How many evidence records exist (evidence lists at most `evidenceLimit`). */
  evidenceCount: number;
  notifications: NotificationRecord[];
  remediationRuns: unknown[];
  activity: ActivityItem[];
}

export interface DetailDeps {
  /** The remediation module's reader of runs for an alert (src/remediate), when present. */
  remediationRuns?: (db: Kysely<Database>, alertId: string) => Promise<unknown[]>;
  now?: string;
  evidenceLimit?: number;
}

function parse(s: string | null): unknown {
  if (s === null) return null;
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

export async function getAlert(db: Kysely<Database>, id: string): Promise<Row | undefined> {
  return db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getAlertDetail(db: Kysely<Database>, id: string, deps: DetailDeps = {}): Promise<AlertDetail | undefined> {
  const now = deps.now ?? new Date().toISOString();
  const r = await getAlert(db, id);
  if (!r) return undefined;
  const evidence = await db
    .selectFrom('alert_evidence')
    .selectAll()
    .where('alert_id', '=', id)
    .orderBy('occurred_at')
    .orderBy('record_id')
    .limit(deps.evidenceLimit ?? 200)
    .execute();
  const evidenceCount = await db.selectFrom('alert_evidence').select((eb) => eb.fn.countAll<number>().as('n')).where('alert_id', '=', id).executeTakeFirst();
  const act = await db.selectFrom('alert_activity').selectAll().where('alert_id', '=', id).orderBy('id').limit(1000).execute();
  return {
    ...toSummary(r, now),
    baseSeverity: r.base_severity as Severity,
    attempt: r.attempt === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    acknowledgedAt: r.acknowledged_at,
    acknowledgedBy: r.acknowledged_by,
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    enrichment: parse(r.enrichment_json) as AlertEnrichment | null,
    evidence: evidence.map((e) => ({ recordId: e.record_id, occurredAt: e.occurred_at, severity: e.severity, clientIp: e.client_ip, facts: parse(e.facts_json) })),
    evidenceCount: Number(evidenceCount?.n ?? 0),
    notifications: await notificationsForAlert(db, id),
    remediationRuns: deps.remediationRuns ? await deps.remediationRuns(db, id) : [],
    activity: act.map((a) => ({ at: a.at, actor: a.actor, action: a.action, detail: parse(a.detail_json) })),
  };
}

export interface ChangeOptions {
  actor: string;
  now?: string;
  note?: string;
}

async function change(
  db: Kysely<Database>,
  id: string,
  action: string,
  allowed: (status: AlertStatus) => boolean,
  set: (now: string, actor: string) => Partial<Row>,
  o: ChangeOptions,
  detail: Record<string, unknown> = {},
): Promise<AlertSummary> {
  const now = o.now ?? new Date().toISOString();
  return db.transaction().execute(async (trx) => {
    const r = await trx.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new OperatorError('TW_ALERT_NOT_FOUND', { id });
    const status = effectiveStatus(r, now);
    if (!allowed(status)) throw new OperatorError('TW_ALERT_BAD_TRANSITION', { id, status, action });
    const patch = { ...set(now, o.actor), updated_at: now };
    await trx.updateTable('alerts').set(patch).where('id', '=', id).execute();
    await trx
      .insertInto('alert_activity')
      .values({ alert_id: id, at: now, actor: o.actor, action, detail_json: JSON.stringify({ from: status, ...detail, ...(o.note ? { note: o.note } : {}) }) })
      .execute();
    return toSummary({ ...r, ...patch } as Row, now);
  });
}

export function acknowledgeAlert(db: Kysely<Database>, id: string, o: ChangeOptions): Promise<AlertSummary> {
  return change(db, id, 'acknowledged', (s) => s === 'open' || s === 'snoozed' || s === 'acknowledged', (now, actor) => ({ status: 'acknowledged', acknowledged_at: now, acknowledged_by: actor, snoozed_until: null }), o);
}

export function resolveAlert(db: Kysely<Database>, id: string, o: ChangeOptions): Promise<AlertSummary> {
  return change(db, id, 'resolved', (s) => s !== 'resolved', (now, actor) => ({ status: 'resolved', resolved_at: now, resolved_by: actor, snoozed_until: null }), o);
}

export function snoozeAlert(db: Kysely<Database>, id: string, until: string, o: ChangeOptions): Promise<AlertSummary> {
  const now = o.now ?? new Date().toISOString();
  if (!(until > now)) return Promise.reject(new OperatorError('TW_USAGE', { detail: `snooze until ${until} is not in the future` }));
  return change(db, id, 'snoozed', (s) => s === 'open' || s === 'acknowledged' || s === 'snoozed', () => ({ status: 'snoozed', snoozed_until: until }), { ...o, now }, { until });
}

/** Back to open (from resolved, acknowledged, snoozed or suppressed — a suppressed alert stays marked as such). */
export function reopenAlert(db: Kysely<Database>, id: string, o: ChangeOptions): Promise<AlertSummary> {
  return change(db, id, 'reopened', (s) => s !== 'open', () => ({ status: 'open', snoozed_until: null, resolved_at: null, resolved_by: null }), o);
}
