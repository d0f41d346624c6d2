// The JSON API driven with inject(): sessions, CSRF, roles, malformed and oversized bodies, hostile strings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';
import { login, PASSWORD, seedUsers, webServer, type Login } from './helpers/web.ts';
import type { AlertListItem, AlertsPort } from '../src/web/ports.ts';
import { nowIso } from '../src/store/db.ts';
import { loadConfig } from '../src/config.ts';
import { withStoredNotifySettings } from '../src/web/settings.ts';

const HOSTILE = '<img src=x onerror="window.__pwned=1">\u202Egnp.exe javascript:alert(1)';

/** A small alerts port over an array (the alerts module's own queries are tested in their suite). */
function arrayAlerts(): AlertsPort & { items: AlertListItem[] } {
  const items: AlertListItem[] = [
    { id: 'a1', ruleId: 'inbox-rule-external-forward', behaviour: 'inbox-rule-external-forward', severity: 'high', tenantId: 't1', userId: 'jane@contoso.com', status: 'open', count: 1, firstSeen: '2026-01-01T00:00:00.000Z', lastSeen: '2026-01-01T00:00:00.000Z', summary: HOSTILE },
    { id: 'a2', ruleId: 'signin-anomaly', behaviour: 'signin-anomaly', severity: 'medium', tenantId: 't2', userId: 'bob@fabrikam.com', status: 'resolved', count: 3, firstSeen: '2026-01-01T00:00:00.000Z', lastSeen: '2026-01-02T00:00:00.000Z', summary: 'sign-in' },
  ];
  return {
    items,
    async list(f) {
      return { items: items.filter((a) => (!f.status || a.status === f.status) && (!f.tenantId || a.tenantId === f.tenantId) && (!f.severity || a.severity === f.severity)), next: null };
    },
    async get(id) {
      const a = items.find((x) => x.id === id);
      return a && { ...a, evidence: [] };
    },
    async act(id, action) {
      const a = items.find((x) => x.id === id);
      if (!a) return undefined;
      a.status = { ack: 'acknowledged', resolve: 'resolved', snooze: 'snoozed', reopen: 'open' }[action];
      return a;
    },
  };
}

describe.each(DIALECTS)('web API (%s)', (dialect) => {
  let store: TestStore;
  let app: FastifyInstance;
  let alerts: ReturnType<typeof arrayAlerts>;
  let tokens: { adminToken: string; viewerToken: string };
  let admin: Login;
  let analyst: Login;
  let viewer: Login;
  const remediated: string[] = [];

  beforeAll(async () => {
    store = await freshStore(dialect);
    tokens = await seedUsers(store);
    await store.db
      .insertInto('tenants')
      .values({ tenant_id: 't1', name: 'Contoso', default_domain: 'contoso.com', source: 'manual', enabled: 1, added_at: nowIso(), context_json: null, context_loaded_at: null, health_json: JSON.stringify({ healthy: false, checks: { token: { ok: true, reason: 'ok' }, auditLog: { ok: false, reason: 'audit log off', fix: 'enable it' } } }), health_checked_at: nowIso() })
      .execute();
    alerts = arrayAlerts();
    app = await webServer(store, {
      alerts,
      loginRateLimit: { max: 8, timeWindowMs: 60_000 },
      // A recording route in place of src/remediate's, to see exactly who gets through the guard.
      remediation: false,
      routes: [
        (a, helpers) => {
          a.post('/api/alerts/:id/remediate', async (req) => {
            const user = await helpers.currentUser(req);
            remediated.push(`${(req.params as { id: string }).id} by ${user?.username}`);
            return { runId: 'r1', steps: [] };
          });
        },
      ],
    });
    admin = await login(app, 'admin');
    analyst = await login(app, 'analyst');
    viewer = await login(app, 'viewer');
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
  });

  it('logs in with an HttpOnly SameSite=Strict session cookie and answers the CSRF token', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/login', payload: { username: 'admin', password: PASSWORD } });
    expect(r.statusCode).toBe(200);
    const c = r.cookies.find((x) => x.name === 'tw_session')!;
    expect(c.httpOnly).toBe(true);
    expect(c.sameSite).toBe('Strict');
    expect(typeof r.json().csrfToken).toBe('string');
    expect(r.body).not.toContain(c.value);
  });

  it('refuses a wrong password with 401 and sets no cookie', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/login', payload: { username: 'admin', password: 'wrong password!!' } });
    expect(r.statusCode).toBe(401);
    expect(r.json().error.code).toBe('TW_WEB_LOGIN_FAILED');
    expect(r.cookies).toHaveLength(0);
  });

  it('answers 401 to API requests without a session or token', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/alerts' });
    expect(r.statusCode).toBe(401);
    expect(r.json().error.code).toBe('TW_WEB_UNAUTHENTICATED');
  });

  it('lists open alerts in the contract shape', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/alerts?status=open', headers: { cookie: viewer.cookie } });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.next).toBeNull();
    expect(body.items).toHaveLength(1);
    expect(Object.keys(body.items[0]).sort()).toEqual(['behaviour', 'count', 'firstSeen', 'id', 'lastSeen', 'ruleId', 'severity', 'status', 'summary', 'tenantId', 'userId'].sort());
  });

  it('rejects an unknown status filter with 400', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/alerts?status=bogus', headers: { cookie: viewer.cookie } });
    expect(r.statusCode).toBe(400);
  });

  it('refuses a cookie-authenticated change without the CSRF token and changes nothing', async () => {
    const missing = await app.inject({ method: 'POST', url: '/api/alerts/a1/ack', headers: { cookie: analyst.cookie }, payload: {} });
    expect(missing.statusCode).toBe(403);
    expect(missing.json().error.code).toBe('TW_WEB_CSRF');
    const wrong = await app.inject({ method: 'POST', url: '/api/alerts/a1/ack', headers: { cookie: analyst.cookie, 'x-csrf-token': admin.csrf }, payload: {} });
    expect(wrong.statusCode).toBe(403);
    expect(alerts.items[0].status).toBe('open');
  });

  it('acknowledges with the session CSRF token, and reopens', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/alerts/a1/ack', headers: { cookie: analyst.cookie, 'x-csrf-token': analyst.csrf }, payload: {} });
    expect(r.statusCode).toBe(200);
    expect(alerts.items[0].status).toBe('acknowledged');
    const back = await app.inject({ method: 'POST', url: '/api/alerts/a1/reopen', headers: { cookie: analyst.cookie, 'x-csrf-token': analyst.csrf } });
    expect(back.statusCode).toBe(200);
    expect(alerts.items[0].status).toBe('open');
  });

  it('accepts a bearer API token without a CSRF token', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/alerts/a2/reopen', headers: { authorization: `Bearer ${tokens.adminToken}` }, payload: {} });
    expect(r.statusCode).toBe(200);
    expect(alerts.items[1].status).toBe('open');
    const bad = await app.inject({ method: 'GET', url: '/api/alerts', headers: { authorization: 'Bearer twk_not-a-token' } });
    expect(bad.statusCode).toBe(401);
  });

  it('forbids a viewer to triage or remediate and lets an analyst remediate', async () => {
    const ack = await app.inject({ method: 'POST', url: '/api/alerts/a1/ack', headers: { cookie: viewer.cookie, 'x-csrf-token': viewer.csrf }, payload: {} });
    expect(ack.statusCode).toBe(403);
    expect(ack.json().error.code).toBe('TW_WEB_FORBIDDEN');
    const rem = await app.inject({ method: 'POST', url: '/api/alerts/a1/remediate', headers: { cookie: viewer.cookie, 'x-csrf-token': viewer.csrf }, payload: { steps: ['block-sign-in'] } });
    expect(rem.statusCode).toBe(403);
    const tok = await app.inject({ method: 'POST', url: '/api/alerts/a1/remediate', headers: { authorization: `Bearer ${tokens.viewerToken}` }, payload: { steps: ['block-sign-in'] } });
    expect(tok.statusCode).toBe(403);
    expect(remediated).toEqual([]);
    const ok = await app.inject({ method: 'POST', url: '/api/alerts/a1/remediate', headers: { cookie: analyst.cookie, 'x-csrf-token': analyst.csrf }, payload: { steps: ['block-sign-in'] } });
    expect(ok.statusCode).toBe(200);
    expect(remediated).toEqual(['a1 by analyst']);
    expect(alerts.items[0].status).toBe('open');
  });

  it('answers malformed JSON with 400 and changes nothing', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/alerts/a1/snooze', headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf, 'content-type': 'application/json' }, payload: '{"minutes": 5,' });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('TW_WEB_BAD_REQUEST');
    expect(alerts.items[0].status).toBe('open');
  });

  it('answers an oversized body with 413 and changes nothing', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/alerts/a1/snooze', headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf, 'content-type': 'application/json' }, payload: JSON.stringify({ note: 'x'.repeat(400_000) }) });
    expect(r.statusCode).toBe(413);
    expect(r.json().error.code).toBe('TW_WEB_BODY_TOO_LARGE');
    expect(alerts.items[0].status).toBe('open');
  });

  it('rejects unknown fields in a body with 400', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/alerts/a1/snooze', headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf }, payload: { minutes: 5, evil: true } });
    expect(r.statusCode).toBe(400);
    expect(alerts.items[0].status).toBe('open');
  });

  it('returns hostile alert text as JSON data, never as HTML', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/alerts/a1', headers: { cookie: viewer.cookie } });
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.json().summary).toBe(HOSTILE);
    const nf = await app.inject({ method: 'GET', url: `/api/alerts/${encodeURIComponent('<script>alert(1)</script>')}`, headers: { cookie: viewer.cookie } });
    expect(nf.statusCode).toBe(404);
    expect(nf.headers['content-type']).toMatch(/^application\/json/);
  });

  it('sends a strict Content-Security-Policy', async () => {
    const r = await app.inject({ method: 'GET', url: '/healthz' });
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('rate-limits login attempts with 429', async () => {
    let last = 0;
    for (let i = 0; i < 12; i++) {
      last = (await app.inject({ method: 'POST', url: '/api/login', remoteAddress: '10.9.9.9', payload: { username: 'admin', password: 'nope nope nope' } })).statusCode;
    }
    expect(last).toBe(429);
  });

  it('lists tenants with their health checks and fixes', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/tenants', headers: { cookie: viewer.cookie } });
    expect(r.statusCode).toBe(200);
    const t = r.json().items[0];
    expect(t).toMatchObject({ tenantId: 't1', name: 'Contoso', healthy: false, checks: { token: { ok: true }, auditLog: { ok: false, reason: 'audit log off', fix: 'enable it' }, subscriptions: { ok: false } } });
  });

  it('validates trusted IPs and saves good ones', async () => {
    const bad = await app.inject({ method: 'PUT', url: '/api/tenants/t1/trusted-ips', headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf }, payload: { trustedIps: ['10.0.0.0/8', 'not-an-ip'] } });
    expect(bad.statusCode).toBe(400);
    const good = await app.inject({ method: 'PUT', url: '/api/tenants/t1/trusted-ips', headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf }, payload: { trustedIps: ['10.0.0.0/8', '2001:db8::/32'] } });
    expect(good.statusCode).toBe(200);
    const row = await store.db.selectFrom('tenants').select('context_json').where('tenant_id', '=', 't1').executeTakeFirstOrThrow();
    expect(JSON.parse(row.context_json!).trustedIps).toEqual(['10.0.0.0/8', '2001:db8::/32']);
  });

  it('validates channels and routes with the config schema, lists every problem and saves nothing', async () => {
    const bad = await app.inject({
      method: 'PUT',
      url: '/api/settings/notify',
      headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf },
      payload: { channels: [{ name: 'bad name!', type: 'memory' }], routes: [{ channels: ['nowhere'] }] },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.length).toBeGreaterThanOrEqual(1);
    const now = await app.inject({ method: 'GET', url: '/api/settings/notify', headers: { cookie: admin.cookie } });
    expect(now.json().channels).toEqual([]);
  });

  it('saves channels, redacts their secrets, and keeps a secret sent back redacted', async () => {
    const h = { cookie: admin.cookie, 'x-csrf-token': admin.csrf };
    const put = await app.inject({ method: 'PUT', url: '/api/settings/notify', headers: h, payload: { channels: [{ name: 'hook', type: 'webhook', url: 'https://example.test/h', secret: 's3cret-value-0123456789' }], routes: [{ channels: ['hook'], minSeverity: 'high' }] } });
    expect(put.statusCode).toBe(200);
    expect(put.body).not.toContain('s3cret-value-0123456789');
    const again = await app.inject({ method: 'PUT', url: '/api/settings/notify', headers: h, payload: { channels: put.json().channels } });
    expect(again.statusCode).toBe(200);
    const row = await store.db.selectFrom('settings').select('value').where('key', '=', 'notify.settings').executeTakeFirstOrThrow();
    expect(JSON.parse(row.value).channels[0].secret).toBe('s3cret-value-0123456789');
    const effective = await withStoredNotifySettings(store.db, loadConfig({ env: {} }));
    expect(effective.notify.channels).toEqual([expect.objectContaining({ name: 'hook', secret: 's3cret-value-0123456789' })]);
    expect(effective.notify.routes).toEqual([{ channels: ['hook'], minSeverity: 'high' }]);
  });

  it('lets only an admin manage users', async () => {
    const denied = await app.inject({ method: 'POST', url: '/api/users', headers: { cookie: analyst.cookie, 'x-csrf-token': analyst.csrf }, payload: { username: 'eve', password: 'a long password 1', role: 'admin' } });
    expect(denied.statusCode).toBe(403);
    const added = await app.inject({ method: 'POST', url: '/api/users', headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf }, payload: { username: 'carol', password: 'a long password 1', role: 'viewer' } });
    expect(added.statusCode).toBe(201);
    const list = await app.inject({ method: 'GET', url: '/api/users', headers: { cookie: admin.cookie } });
    expect(list.json().items.map((u: { username: string }) => u.username)).toContain('carol');
    expect(list.body).not.toContain('scrypt$');
  });

  it('adds, lists and removes exclusions, validating them first', async () => {
    const h = { cookie: admin.cookie, 'x-csrf-token': admin.csrf };
    const bad = await app.inject({ method: 'POST', url: '/api/exclusions', headers: h, payload: { tenantId: 't1', ipRange: '999.1.1.1/8', reason: 'x' } });
    expect(bad.statusCode).toBe(400);
    const none = await app.inject({ method: 'POST', url: '/api/exclusions', headers: h, payload: { tenantId: 't1', reason: 'matches nothing' } });
    expect(none.statusCode).toBe(400);
    const ok = await app.inject({ method: 'POST', url: '/api/exclusions', headers: h, payload: { tenantId: 't1', destination: '*@partner.example', reason: 'partner mailbox' } });
    expect(ok.statusCode).toBe(201);
    const list = await app.inject({ method: 'GET', url: '/api/exclusions', headers: { cookie: viewer.cookie } });
    expect(list.json().items).toEqual([expect.objectContaining({ id: ok.json().id, tenantId: 't1', destination: '*@partner.example', reason: 'partner mailbox' })]);
    const denied = await app.inject({ method: 'DELETE', url: `/api/exclusions/${ok.json().id}`, headers: { cookie: analyst.cookie, 'x-csrf-token': analyst.csrf } });
    expect(denied.statusCode).toBe(403);
    const gone = await app.inject({ method: 'DELETE', url: `/api/exclusions/${ok.json().id}`, headers: h });
    expect(gone.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/exclusions', headers: h })).json().items).toEqual([]);
  });

  it('ends the session at logout', async () => {
    const s = await login(app, 'viewer');
    const out = await app.inject({ method: 'POST', url: '/api/logout', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    expect(out.statusCode).toBe(200);
    const after = await app.inject({ method: 'GET', url: '/api/session', headers: { cookie: s.cookie } });
    expect(after.statusCode).toBe(401);
  });

  it('serves the OpenAPI document, health, readiness and metrics', async () => {
    const doc = await app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(doc.statusCode).toBe(200);
    expect(Object.keys(doc.json().paths)).toEqual(expect.arrayContaining(['/api/alerts', '/api/alerts/{id}', '/api/tenants', '/api/login']));
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json()).toEqual({ ok: true, checks: { store: true } });
    const m = await app.inject({ method: 'GET', url: '/metrics' });
    expect(m.statusCode).toBe(200);
    expect(m.body).toContain('tenantwatch_');
    for (const name of ['tenantwatch_records_ingested', 'tenantwatch_alerts', 'tenantwatch_notifications', 'tenantwatch_poll_lag_seconds', 'tenantwatch_remediation_steps']) expect(m.body).toContain(`# TYPE ${name} gauge`);
  });
});
