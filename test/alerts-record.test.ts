// Detections → alerts → outbox, on every dialect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';
import { recordDetections, type RecordDeps } from '../src/alerts/record.ts';
import { acknowledgeAlert, getAlertDetail, listAlerts, reopenAlert, resolveAlert, snoozeAlert } from '../src/alerts/queries.ts';
import { addExclusion } from '../src/alerts/exclusions.ts';
import { observeSignIn } from '../src/enrich/baseline.ts';
import type { Detection, TenantContext } from '../src/model.ts';

const T = '11111111-0000-4000-8000-000000000001';
const ctx: TenantContext = {
  tenantId: T,
  name: 'Contoso',
  acceptedDomains: [{ domain: 'contoso.com', matchSubdomains: false }],
  recipients: [],
  trustedIps: ['203.0.113.0/24'],
  exclusions: [{ id: 'ctx-1', destination: '*@partner.example', reason: 'accounting partner' }],
  known: true,
};

function det(i: number, over: Partial<Detection> = {}): Detection {
  return {
    recordId: `rec-${i}`,
    ruleId: 'inbox-rule-external-forward',
    behaviour: 'inbox-rule-external-forward',
    severity: 'high',
    tenantId: T,
    userId: 'jane@contoso.com',
    summary: 'jane@contoso.com created inbox rule "." that forwards all mail to x@evil.example and deletes it',
    attempt: false,
    occurredAt: new Date(Date.UTC(2026, 10, 20, 10, 0, i)).toISOString(),
    target: 'x@evil.example',
    clientIp: '198.51.100.7:50123',
    facts: { forwardTo: ['x@evil.example'] },
    ...over,
  };
}

function deps(over: Partial<RecordDeps> = {}, channels = ['ops', 'mail']): RecordDeps {
  return {
    config: { alerts: { groupWindowMinutes: 60 }, notify: { channels: channels.map((name) => ({ name })), routes: [] } },
    context: (id) => (id === T ? ctx : undefined),
    geo: { lookup: (ip) => (ip.startsWith('198.51.100.') ? { ip, country: 'NL', countryName: 'Netherlands', city: 'Amsterdam', asn: 64500, asOrg: 'Example Hosting' } : undefined) },
    clock: { now: () => new Date('2026-11-20T10:05:00.000Z') },
    ...over,
  };
}

describe.each(DIALECTS)('alerts on %s', (dialect) => {
  let s: TestStore;
  beforeAll(async () => {
    s = await freshStore(dialect);
  });
  afterAll(async () => {
    await s?.dispose();
  });

  async function outboxFor(alertId: string) {
    return s.db.selectFrom('notify_outbox').selectAll().where('alert_id', '=', alertId).orderBy('channel').execute();
  }

  it('turns a burst of 50 related detections into one alert and one notification per channel', async () => {
    const burst = Array.from({ length: 50 }, (_, i) => det(i, { tenantId: T, userId: 'burst@contoso.com' }));
    const changes = await s.db.transaction().execute((trx) => recordDetections(trx, burst, deps()));
    const ids = new Set(changes.map((c) => c.alertId));
    expect(ids.size).toBe(1);
    expect(changes.filter((c) => c.kind === 'created')).toHaveLength(1);
    expect(changes.filter((c) => c.kind === 'grown')).toHaveLength(49);
    const [id] = [...ids];
    const rows = await outboxFor(id);
    expect(rows.map((r) => r.channel)).toEqual(['mail', 'ops']);
    expect(rows.every((r) => r.event === 'created' && r.status === 'pending')).toBe(true);
    // The waiting notification shows the whole burst.
    expect(JSON.parse(rows[0].view_json)).toMatchObject({ count: 50, firstSeen: burst[0].occurredAt, lastSeen: burst[49].occurredAt });
    const d = await getAlertDetail(s.db, id);
    expect(d?.count).toBe(50);
    expect(d?.evidenceCount).toBe(50);
    expect(d?.firstSeen).toBe(burst[0].occurredAt);
    expect(d?.lastSeen).toBe(burst[49].occurredAt);
    // The same records arriving again (a re-listed blob) never notify again.
    const again = await s.db.transaction().execute((trx) => recordDetections(trx, burst.slice(0, 5), deps()));
    expect(again.every((c) => c.kind === 'duplicate' && c.alertId === id)).toBe(true);
    expect(await outboxFor(id)).toHaveLength(2);
  });

  it('keeps the raw summary and enriches with geo and the user baseline', async () => {
    await observeSignIn(s.db, { tenantId: T, userId: 'base@contoso.com', ip: '192.0.2.1', geo: { ip: '192.0.2.1', country: 'US', asn: 64496 }, at: '2026-11-01T00:00:00.000Z' });
    const [c] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(1000, { userId: 'base@contoso.com', summary: 'rule <img src=x onerror=alert(1)> & "q"' })], deps()));
    const d = await getAlertDetail(s.db, c.alertId);
    expect(d?.summary).toBe('rule <img src=x onerror=alert(1)> & "q"');
    expect(d?.enrichment).toMatchObject({ ip: '198.51.100.7', baselineKnown: true, newIp: true, newCountry: true, newAsn: true, geo: { country: 'NL', city: 'Amsterdam' } });
    // A new country raises the rule's severity one level.
    expect(d?.severity).toBe('critical');
    expect(d?.baseSeverity).toBe('high');
  });

  it('caps an attempt at low severity', async () => {
    const [c] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(2000, { userId: 'attempt@contoso.com', attempt: true, severity: 'critical' })], deps()));
    expect(c.severity).toBe('low');
  });

  it('keeps suppressed alerts, visible as suppressed, without notifying', async () => {
    const trusted = await s.db.transaction().execute((trx) => recordDetections(trx, [det(3000, { userId: 'office@contoso.com', clientIp: '203.0.113.9' })], deps()));
    expect(trusted[0]).toMatchObject({ kind: 'created', suppressed: true, notifications: [] });
    const partner = await s.db.transaction().execute((trx) => recordDetections(trx, [det(3001, { userId: 'acct@contoso.com', target: 'ap@partner.example', facts: { forwardTo: ['ap@partner.example'] } })], deps()));
    expect(partner[0].suppressed).toBe(true);
    // One excluded address among several does not suppress.
    const mixed = await s.db.transaction().execute((trx) => recordDetections(trx, [det(3002, { userId: 'acct2@contoso.com', target: 'ap@partner.example', facts: { forwardTo: ['ap@partner.example', 'x@evil.example'] } })], deps()));
    expect(mixed[0].suppressed).toBe(false);
    await addExclusion(s.db, { tenantId: T, user: 'vip@contoso.com', reason: 'travelling CEO', createdBy: 'op', expiresAt: '2026-12-01T00:00:00.000Z' }, '2026-11-19T00:00:00.000Z');
    await addExclusion(s.db, { tenantId: T, user: 'old@contoso.com', reason: 'expired', createdBy: 'op', expiresAt: '2026-11-01T00:00:00.000Z' }, '2026-10-01T00:00:00.000Z');
    const vip = await s.db.transaction().execute((trx) => recordDetections(trx, [det(3003, { userId: 'vip@contoso.com' }), det(3004, { userId: 'old@contoso.com' })], deps()));
    expect(vip.map((c) => c.suppressed)).toEqual([true, false]);
    const list = await listAlerts(s.db, { status: 'suppressed', tenantId: T, now: '2026-11-20T10:05:00.000Z' });
    expect(list.items.map((a) => a.userId).sort()).toEqual(['acct@contoso.com', 'office@contoso.com', 'vip@contoso.com']);
    expect(list.items.find((a) => a.userId === 'vip@contoso.com')?.suppressedReason).toContain('travelling CEO');
    expect(await outboxFor(trusted[0].alertId)).toHaveLength(0);
  });

  it('opens and notifies a suppressed incident when it continues from outside the suppression', async () => {
    const user = 'cont@contoso.com';
    const [a] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(3100, { userId: user, clientIp: '203.0.113.10' })], deps()));
    expect(a.suppressed).toBe(true);
    const [b] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(3101, { userId: user, clientIp: '203.0.113.11' })], deps()));
    expect(b).toMatchObject({ alertId: a.alertId, suppressed: true, notifications: [] });
    const [c] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(3102, { userId: user, clientIp: '198.51.100.99' })], deps()));
    expect(c).toMatchObject({ alertId: a.alertId, suppressed: false });
    expect(c.notifications).toHaveLength(2);
    const d = await getAlertDetail(s.db, a.alertId);
    expect(d).toMatchObject({ status: 'open', suppressed: false, count: 3 });
    expect(d?.activity.map((x) => x.action)).toContain('unsuppressed');
    expect(JSON.parse((await outboxFor(a.alertId))[0].view_json)).toMatchObject({ count: 3 });
  });

  it('routes by tenant, severity and behaviour', async () => {
    const routed = deps({
      config: {
        alerts: { groupWindowMinutes: 60 },
        notify: {
          channels: [{ name: 'ops' }, { name: 'mail' }, { name: 'other' }],
          routes: [
            { channels: ['ops'], minSeverity: 'high' },
            { channels: ['mail'], behaviours: ['illicit-consent'] },
            { channels: ['other'], tenants: ['someone-else'] },
          ],
        },
      },
    });
    const [hi] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(4000, { userId: 'route1@contoso.com', clientIp: undefined })], routed));
    expect((await outboxFor(hi.alertId)).map((r) => r.channel)).toEqual(['ops']);
    const [consent] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(4001, { userId: 'route2@contoso.com', clientIp: undefined, ruleId: 'consent', behaviour: 'illicit-consent', severity: 'medium' })], routed));
    expect((await outboxFor(consent.alertId)).map((r) => r.channel)).toEqual(['mail']);
  });

  it('notifies once more when a growing alert escalates, never on plain growth', async () => {
    const user = 'esc@contoso.com';
    const [a] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(5000, { userId: user, clientIp: undefined, severity: 'medium' })], deps()));
    const grown = await s.db.transaction().execute((trx) => recordDetections(trx, [det(5001, { userId: user, clientIp: undefined, severity: 'medium' })], deps()));
    expect(grown[0]).toMatchObject({ alertId: a.alertId, kind: 'grown', notifications: [] });
    const esc = await s.db.transaction().execute((trx) => recordDetections(trx, [det(5002, { userId: user, clientIp: undefined, severity: 'high' })], deps()));
    expect(esc[0]).toMatchObject({ alertId: a.alertId, kind: 'escalated', severity: 'high' });
    const rows = await outboxFor(a.alertId);
    expect(rows.map((r) => `${r.event}:${r.channel}`).sort()).toEqual(['created:mail', 'created:ops', 'escalated:mail', 'escalated:ops']);
    const view = JSON.parse(rows.find((r) => r.event === 'escalated')!.view_json);
    expect(view).toMatchObject({ severity: 'high', previousSeverity: 'medium', count: 3 });
  });

  it('opens a new alert after the group window or after the alert was resolved', async () => {
    const user = 'window@contoso.com';
    const [a] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(6000, { userId: user, occurredAt: '2026-11-20T08:00:00.000Z' })], deps()));
    const [b] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(6001, { userId: user, occurredAt: '2026-11-20T09:30:00.000Z' })], deps()));
    expect(b.alertId).not.toBe(a.alertId);
    await resolveAlert(s.db, b.alertId, { actor: 'op' });
    const [c] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(6002, { userId: user, occurredAt: '2026-11-20T09:31:00.000Z' })], deps()));
    expect(c.kind).toBe('created');
    expect(c.alertId).not.toBe(b.alertId);
  });

  it('acknowledges, snoozes, resolves and reopens with an activity trail', async () => {
    const [a] = await s.db.transaction().execute((trx) => recordDetections(trx, [det(7000, { userId: 'triage@contoso.com' })], deps()));
    const now = '2026-11-20T11:00:00.000Z';
    expect((await acknowledgeAlert(s.db, a.alertId, { actor: 'alice', now })).status).toBe('acknowledged');
    expect((await snoozeAlert(s.db, a.alertId, '2026-11-20T12:00:00.000Z', { actor: 'alice', now })).status).toBe('snoozed');
    const listed = await listAlerts(s.db, { status: 'open', now: '2026-11-20T12:30:00.000Z', userId: 'triage@contoso.com' });
    expect(listed.items.map((x) => x.id)).toEqual([a.alertId]);
    expect((await resolveAlert(s.db, a.alertId, { actor: 'bob', now, note: 'false positive' })).status).toBe('resolved');
    await expect(acknowledgeAlert(s.db, a.alertId, { actor: 'bob', now })).rejects.toMatchObject({ code: 'TW_ALERT_BAD_TRANSITION' });
    expect((await reopenAlert(s.db, a.alertId, { actor: 'carol', now })).status).toBe('open');
    await expect(resolveAlert(s.db, 'al_missing', { actor: 'x' })).rejects.toMatchObject({ code: 'TW_ALERT_NOT_FOUND' });
    const d = await getAlertDetail(s.db, a.alertId, { remediationRuns: async (_db, id) => [{ runId: `r-${id}` }] });
    expect(d?.activity.map((x) => x.action)).toEqual(['created', 'notification-queued', 'acknowledged', 'snoozed', 'resolved', 'reopened']);
    expect(d?.activity.find((x) => x.action === 'resolved')).toMatchObject({ actor: 'bob', detail: { note: 'false positive' } });
    expect(d?.notifications.map((n) => n.channel).sort()).toEqual(['mail', 'ops']);
    expect(d?.remediationRuns).toEqual([{ runId: `r-${a.alertId}` }]);
  });

  it('pages the alert list with an opaque cursor', async () => {
    const first = await listAlerts(s.db, { limit: 3 });
    expect(first.items).toHaveLength(3);
    expect(first.next).toBeTruthy();
    const second = await listAlerts(s.db, { limit: 3, cursor: first.next! });
    expect(second.items.map((x) => x.id).some((id) => first.items.some((f) => f.id === id))).toBe(false);
  });
});
