// The alerts module as the web server consumes it (AlertsPort / ExclusionsPort shapes in web/ports.ts).
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { SEVERITIES, type Severity } from '../model.ts';
import { acknowledgeAlert, getAlertDetail, listAlerts, reopenAlert, resolveAlert, snoozeAlert, ALERT_STATUSES, type AlertStatus, type DetailDeps } from './queries.ts';
import { addExclusion, listExclusions, removeExclusion } from './exclusions.ts';
import { OperatorError } from '../errors.ts';

export function alertsPort(db: Kysely<Database>, deps: Pick<DetailDeps, 'remediationRuns'> & { now?: () => Date } = {}) {
  const now = () => (deps.now?.() ?? new Date()).toISOString();
  return {
    list(f: { status?: string; tenantId?: string; severity?: string; behaviour?: string; userId?: string; cursor?: string; limit: number }) {
      const status = (ALERT_STATUSES as readonly string[]).includes(f.status ?? '') ? (f.status as AlertStatus) : undefined;
      const minSeverity = (SEVERITIES as readonly string[]).includes(f.severity ?? '') ? (f.severity as Severity) : undefined;
      return listAlerts(db, { status, tenantId: f.tenantId, behaviour: f.behaviour, userId: f.userId, cursor: f.cursor, limit: f.limit, minSeverity, now: now() });
    },
    async get(id: string) {
      return getAlertDetail(db, id, { remediationRuns: deps.remediationRuns, now: now() });
    },
    async act(id: string, action: 'ack' | 'resolve' | 'snooze' | 'reopen', actor: string, opts: { until?: string; note?: string }) {
      try {
        const o = { actor, note: opts.note, now: now() };
        if (action === 'ack') return await acknowledgeAlert(db, id, o);
        if (action === 'resolve') return await resolveAlert(db, id, o);
        if (action === 'reopen') return await reopenAlert(db, id, o);
        if (!opts.until) throw new OperatorError('TW_USAGE', { detail: 'snooze needs until' });
        return await snoozeAlert(db, id, opts.until, o);
      } catch (e) {
        if (e instanceof OperatorError && e.code === 'TW_ALERT_NOT_FOUND') return undefined;
        throw e;
      }
    },
    async version() {
      const r = await db.selectFrom('alerts').select((eb) => [eb.fn.max('updated_at').as('u'), eb.fn.countAll<number>().as('n')]).executeTakeFirst();
      return `${r?.n ?? 0}:${r?.u ?? ''}`;
    },
  };
}

export function exclusionsPort(db: Kysely<Database>) {
  return {
    async list() {
      return (await listExclusions(db, { includeExpired: true })) as unknown as Array<Record<string, unknown>>;
    },
    async add(x: Record<string, unknown>, actor: string) {
      const str = (k: string) => (typeof x[k] === 'string' && (x[k] as string).length ? (x[k] as string).slice(0, 500) : undefined);
      const reason = str('reason');
      if (!reason) throw new OperatorError('TW_USAGE', { detail: 'an exclusion needs a reason' });
      const id = await addExclusion(db, { tenantId: str('tenantId'), user: str('user'), behaviour: str('behaviour'), ruleId: str('ruleId'), destination: str('destination'), ipRange: str('ipRange'), expiresAt: str('expiresAt'), reason, createdBy: actor }, new Date().toISOString());
      return { id, ...x, createdBy: actor };
    },
    remove(id: string) {
      return removeExclusion(db, id);
    },
  };
}
