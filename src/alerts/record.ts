// Detections → alerts, inside the caller's transaction: group into the open alert (one incident, one
// alert), enrich, set severity from the rule and the context, suppress by exclusions and trusted IPs,
// keep an activity trail, and write the outbox rows for the notifications in the same transaction.
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { isPostgres } from '../store/portable.ts';
import { SEVERITIES, severityRank, type Detection, type Exclusion, type GeoInfo, type Severity, type TenantContext } from '../model.ts';
import { baselineVerdict } from '../enrich/baseline.ts';
import { bareIp, listExclusions, suppressionFor } from './exclusions.ts';
import { enqueueNotifications, routeChannels, type Route } from '../notify/outbox.ts';
import type { NotificationView } from '../notify/types.ts';

export interface RecordDeps {
  config: {
    alerts: { groupWindowMinutes: number };
    notify: { channels: ReadonlyArray<{ name: string }>; routes: readonly Route[] };
  };
  /** The tenant context (exclusions, trusted IPs, name); the pipeline has it at hand. */
  context?: (tenantId: string) => TenantContext | undefined;
  /** Offline geolocation (enrich/geo.ts), when configured. */
  geo?: { lookup(ip: string): GeoInfo | undefined };
  clock?: { now(): Date };
}

export type AlertChangeKind = 'created' | 'grown' | 'escalated' | 'duplicate';

export interface AlertChange {
  alertId: string;
  kind: AlertChangeKind;
  recordId: string;
  severity: Severity;
  suppressed: boolean;
  /** Outbox ids (idempotency keys) written for this change. */
  notifications: string[];
}

export interface AlertEnrichment {
  ip?: string;
  geo?: GeoInfo;
  baselineKnown: boolean;
  newIp?: boolean;
  newCountry?: boolean;
  newAsn?: boolean;
}

const MAX_FACTS_ROWS = 20;
const MAX_FACTS_CHARS = 8000;
const MAX_SUMMARY = 1000;
const MAX_TARGET = 500;

export function newAlertId(now: Date): string {
  return `al_${now.getTime().toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`;
}

function raise(s: Severity, steps = 1): Severity {
  return SEVERITIES[Math.min(SEVERITIES.length - 1, severityRank(s) + steps)];
}

function lower(a: Severity, b: Severity): Severity {
  return severityRank(a) <= severityRank(b) ? a : b;
}

/** The rule's severity adjusted by context: an attempt (failed cmdlet) caps at low; a new country raises one level. */
export function contextualSeverity(d: Pick<Detection, 'severity' | 'attempt'>, e: Pick<AlertEnrichment, 'newCountry'>): Severity {
  if (d.attempt) return lower(d.severity, 'low');
  return e.newCountry === true ? raise(d.severity) : d.severity;
}

export function groupKeyOf(d: Pick<Detection, 'tenantId' | 'userId' | 'ruleId' | 'target'>): string {
  return [d.tenantId, d.userId.toLowerCase(), d.ruleId, (d.target ?? '').slice(0, MAX_TARGET).toLowerCase()].join('\u001f');
}

function factsJson(facts: Record<string, unknown> | undefined): string | null {
  if (!facts) return null;
  let s: string;
  try {
    s = JSON.stringify(facts);
  } catch {
    return JSON.stringify({ unserializable: true });
  }
  return s.length <= MAX_FACTS_CHARS ? s : JSON.stringify({ truncated: true, preview: s.slice(0, MAX_FACTS_CHARS) });
}

async function enrich(trx: Kysely<Database>, d: Detection, deps: RecordDeps): Promise<AlertEnrichment> {
  const ip = bareIp(d.clientIp);
  if (!ip) return { baselineKnown: false };
  let geo: GeoInfo | undefined;
  try {
    geo = deps.geo?.lookup(ip);
  } catch {
    geo = undefined;
  }
  const v = await baselineVerdict(trx, { tenantId: d.tenantId, userId: d.userId, ip, geo, before: d.occurredAt });
  return { ip, geo, baselineKnown: v.known, newIp: v.newIp, newCountry: v.newCountry, newAsn: v.newAsn };
}

type AlertRow = Database['alerts'];

export function viewOf(a: Pick<AlertRow, 'id' | 'tenant_id' | 'user_id' | 'rule_id' | 'behaviour' | 'severity' | 'summary' | 'target' | 'count' | 'first_seen' | 'last_seen' | 'attempt' | 'enrichment_json'>, event: NotificationView['event'], tenantName?: string, previousSeverity?: Severity): NotificationView {
  let e: AlertEnrichment = { baselineKnown: false };
  try {
    if (a.enrichment_json) e = JSON.parse(a.enrichment_json) as AlertEnrichment;
  } catch {
    /* keep the empty enrichment */
  }
  const v: NotificationView = {
    alertId: a.id,
    event,
    tenantId: a.tenant_id,
    userId: a.user_id,
    ruleId: a.rule_id,
    behaviour: a.behaviour,
    severity: a.severity as Severity,
    summary: a.summary,
    count: a.count,
    firstSeen: a.first_seen,
    lastSeen: a.last_seen,
  };
  if (tenantName) v.tenantName = tenantName;
  if (a.target) v.target = a.target;
  if (a.attempt) v.attempt = true;
  if (e.ip) {
    v.ip = e.ip;
    if (e.geo?.country) v.country = e.geo.country;
    if (e.geo?.countryName) v.countryName = e.geo.countryName;
    if (e.geo?.city) v.city = e.geo.city;
    if (e.geo?.asn !== undefined) v.asn = e.geo.asn;
    if (e.geo?.asOrg) v.asOrg = e.geo.asOrg;
    if (e.geo?.hosting !== undefined) v.hosting = e.geo.hosting;
    if (e.newIp !== undefined) v.newIp = e.newIp;
    if (e.newCountry !== undefined) v.newCountry = e.newCountry;
    if (e.newAsn !== undefined) v.newAsn = e.newAsn;
  }
  if (previousSeverity) v.previousSeverity = previousSeverity;
  return v;
}

async function activity(trx: Kysely<Database>, alertId: string, at: string, actor: string, action: string, detail?: unknown): Promise<void> {
  await trx
    .insertInto('alert_activity')
    .values({ alert_id: alertId, at, actor, action, detail_json: detail === undefined ? null : JSON.stringify(detail) })
    .execute();
}

/**
 * Records detections as alert changes inside `trx` (the blob's transaction). Never notifies twice for a
 * record: a record already in an alert's evidence is a `duplicate`. Growth of an open alert does not
 * notify; a severity raise of an open or acknowledged (not suppressed, not snoozed) alert sends one
 * `escalated` notification per new severity level.
 */
export async function recordDetections(trx: Kysely<Database>, detections: readonly Detection[], deps: RecordDeps): Promise<AlertChange[]> {
  const changes: AlertChange[] = [];
  if (detections.length === 0) return changes;
  const nowDate = deps.clock?.now() ?? new Date();
  const now = nowDate.toISOString();
  const windowMs = deps.config.alerts.groupWindowMinutes * 60_000;
  const stored = new Map<string, Exclusion[]>();
  const pg = isPostgres(trx);
  const sorted = [...detections].sort((a, b) => (a.occurredAt < b.occurredAt ? -1 : a.occurredAt > b.occurredAt ? 1 : 0));
  for (const d of sorted) {
    const key = groupKeyOf(d);
    // Two workers recording the same incident at once must not open two alerts (PostgreSQL; SQLite
    // serialises writers already).
    if (pg) await sql`SELECT pg_advisory_xact_lock(hashtext(${key}))`.execute(trx);
    const dup = await trx
      .selectFrom('alert_evidence')
      .innerJoin('alerts', 'alerts.id', 'alert_evidence.alert_id')
      .select(['alerts.id', 'alerts.severity', 'alerts.suppressed'])
      .where('alert_evidence.record_id', '=', d.recordId)
      .where('alerts.group_key', '=', key)
      .executeTakeFirst();
    if (dup) {
      changes.push({ alertId: dup.id, kind: 'duplicate', recordId: d.recordId, severity: dup.severity as Severity, suppressed: dup.suppressed === 1, notifications: [] });
      continue;
    }
    const ctx = deps.context?.(d.tenantId);
    const earliest = new Date(Date.parse(d.occurredAt) - windowMs).toISOString();
    const open = await trx
      .selectFrom('alerts')
      .selectAll()
      .where('group_key', '=', key)
      .where('status', '!=', 'resolved')
      .where('last_seen', '>=', earliest)
      .orderBy('last_seen', 'desc')
      .limit(1)
      .executeTakeFirst();
    const enrichment = await enrich(trx, d, deps);
    const severity = contextualSeverity(d, enrichment);
    if (!stored.has(d.tenantId)) stored.set(d.tenantId, await listExclusions(trx, { tenantId: d.tenantId, now }));
    const suppression = suppressionFor(d, ctx, stored.get(d.tenantId)!, now);
    if (open) {
      // A suppressed incident that continues from somewhere the suppression does not cover (another IP,
      // another destination) is no longer suppressed: it opens and notifies.
      if (open.suppressed === 1 && !suppression) changes.push(await unsuppress(trx, open, d, severity, ctx, deps, now));
      else changes.push(await grow(trx, open, d, severity, ctx, deps, now));
      continue;
    }
    const id = newAlertId(nowDate);
    const row: AlertRow = {
      id,
      tenant_id: d.tenantId,
      user_id: d.userId,
      rule_id: d.ruleId,
      behaviour: d.behaviour,
      target: (d.target ?? '').slice(0, MAX_TARGET),
      group_key: key,
      severity,
      base_severity: d.severity,
      status: suppression ? 'suppressed' : 'open',
      suppressed: suppression ? 1 : 0,
      suppressed_reason: suppression?.reason ?? null,
      summary: String(d.summary ?? '').slice(0, MAX_SUMMARY),
      count: 1,
      attempt: d.attempt ? 1 : 0,
      client_ip: enrichment.ip ?? null,
      enrichment_json: JSON.stringify(enrichment),
      first_seen: d.occurredAt,
      last_seen: d.occurredAt,
      created_at: now,
      updated_at: now,
      snoozed_until: null,
      acknowledged_at: null,
      acknowledged_by: null,
      resolved_at: null,
      resolved_by: null,
    };
    await trx.insertInto('alerts').values(row).execute();
    await addEvidence(trx, id, d, now, 0);
    await activity(trx, id, now, 'tenantwatch', 'created', { recordId: d.recordId, severity, baseSeverity: d.severity });
    let notifications: string[] = [];
    if (suppression) {
      await activity(trx, id, now, 'tenantwatch', 'suppressed', { reason: suppression.reason });
    } else {
      const view = viewOf(row, 'created', ctx?.name);
      notifications = await enqueueNotifications(trx, view, 'created', routeChannels(deps.config.notify, view), now);
      if (notifications.length) await activity(trx, id, now, 'tenantwatch', 'notification-queued', { event: 'created', channels: notifications.length });
    }
    changes.push({ alertId: id, kind: 'created', recordId: d.recordId, severity, suppressed: !!suppression, notifications });
  }
  return changes;
}

async function addEvidence(trx: Kysely<Database>, alertId: string, d: Detection, now: string, existing: number): Promise<void> {
  await trx
    .insertInto('alert_evidence')
    .values({
      alert_id: alertId,
      record_id: d.recordId,
      occurred_at: d.occurredAt,
      severity: d.severity,
      client_ip: bareIp(d.clientIp) ?? null,
      facts_json: existing < MAX_FACTS_ROWS ? factsJson(d.facts) : null,
      added_at: now,
    })
    .onConflict((oc) => oc.columns(['alert_id', 'record_id']).doNothing())
    .execute();
}

async function unsuppress(trx: Kysely<Database>, open: AlertRow, d: Detection, severity: Severity, ctx: TenantContext | undefined, deps: RecordDeps, now: string): Promise<AlertChange> {
  const grown = await grow(trx, open, d, severity, ctx, { ...deps, config: { ...deps.config, notify: { ...deps.config.notify, routes: [], channels: [] } } }, now);
  await trx.updateTable('alerts').set({ status: 'open', suppressed: 0, suppressed_reason: null, updated_at: now }).where('id', '=', open.id).execute();
  await activity(trx, open.id, now, 'tenantwatch', 'unsuppressed', { recordId: d.recordId, was: open.suppressed_reason });
  const row = await trx.selectFrom('alerts').selectAll().where('id', '=', open.id).executeTakeFirstOrThrow();
  const view = viewOf(row, 'created', ctx?.name);
  const notifications = await enqueueNotifications(trx, view, 'created', routeChannels(deps.config.notify, view), now);
  if (notifications.length) await activity(trx, open.id, now, 'tenantwatch', 'notification-queued', { event: 'created', channels: notifications.length });
  return { ...grown, severity: row.severity as Severity, suppressed: false, notifications };
}

async function grow(trx: Kysely<Database>, open: AlertRow, d: Detection, severity: Severity, ctx: TenantContext | undefined, deps: RecordDeps, now: string): Promise<AlertChange> {
  const escalate = severityRank(severity) > severityRank(open.severity as Severity);
  const next: AlertRow = {
    ...open,
    count: open.count + 1,
    last_seen: d.occurredAt > open.last_seen ? d.occurredAt : open.last_seen,
    first_seen: d.occurredAt < open.first_seen ? d.occurredAt : open.first_seen,
    severity: escalate ? severity : open.severity,
    // A later successful action turns an "attempt" alert into the real thing.
    attempt: open.attempt && d.attempt ? 1 : 0,
    updated_at: now,
  };
  await trx
    .updateTable('alerts')
    .set({ count: next.count, last_seen: next.last_seen, first_seen: next.first_seen, severity: next.severity, attempt: next.attempt, updated_at: now })
    .where('id', '=', open.id)
    .execute();
  await addEvidence(trx, open.id, d, now, open.count);
  // A notification not yet picked up (typically: written earlier in this same blob's transaction) shows
  // the alert as it is now, e.g. "50 records" for a burst, not "1".
  const waiting = await trx.selectFrom('notify_outbox').select(['id', 'view_json']).where('alert_id', '=', open.id).where('status', '=', 'pending').where('attempts', '=', 0).execute();
  for (const w of waiting) {
    let prev: NotificationView;
    try {
      prev = JSON.parse(w.view_json) as NotificationView;
    } catch {
      continue;
    }
    const fresh = { ...prev, count: next.count, firstSeen: next.first_seen, lastSeen: next.last_seen };
    await trx.updateTable('notify_outbox').set({ view_json: JSON.stringify(fresh) }).where('id', '=', w.id).where('status', '=', 'pending').where('attempts', '=', 0).execute();
  }
  let notifications: string[] = [];
  if (escalate) {
    await activity(trx, open.id, now, 'tenantwatch', 'escalated', { from: open.severity, to: severity, recordId: d.recordId });
    const snoozed = open.status === 'snoozed' && (open.snoozed_until ?? '') > now;
    if (!open.suppressed && !snoozed && (open.status === 'open' || open.status === 'acknowledged' || open.status === 'snoozed')) {
      const view = viewOf(next, 'escalated', ctx?.name, open.severity as Severity);
      notifications = await enqueueNotifications(trx, view, `escalated-${severity}`, routeChannels(deps.config.notify, view), now);
      if (notifications.length) await activity(trx, open.id, now, 'tenantwatch', 'notification-queued', { event: 'escalated', channels: notifications.length });
    }
  }
  return { alertId: open.id, kind: escalate ? 'escalated' : 'grown', recordId: d.recordId, severity: next.severity as Severity, suppressed: open.suppressed === 1, notifications };
}
