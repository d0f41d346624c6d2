/* eslint-disable @typescript-eslint/no-explicit-any -- JSON response bodies are read loosely in tests */
import { connect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONTOSO, PARTNER, startTestSim, worldWith, type TestSim } from './helpers.ts';

let sim: TestSim;
let token: string;
const feed = (p: string) => `/api/v1.0/${CONTOSO}/activity/feed${p}`;
const pub = `PublisherIdentifier=${PARTNER}`;

beforeAll(async () => {
  sim = await startTestSim({ world: worldWith({ quirks: { duplicates: 0, outOfOrder: false } }) });
  token = await sim.token(CONTOSO);
  await sim.call('POST', feed(`/subscriptions/start?contentType=Audit.Exchange&${pub}`), { token });
});
afterAll(async () => sim.close());
afterEach(async () => {
  await sim.call('DELETE', '/_sim/faults');
});

/** Raw HTTPS GET that reports what arrived before the connection ended. */
function rawGet(path: string, auth: string): Promise<{ data: string; error?: string }> {
  const u = new URL(sim.url);
  return new Promise((resolve) => {
    let data = '';
    const s = connect({ host: u.hostname, port: Number(u.port), ca: sim.server.ca!, servername: 'localhost' }, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${auth}\r\nConnection: close\r\n\r\n`);
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => (data += d));
    s.on('error', (e) => resolve({ data, error: e.message }));
    s.on('close', () => resolve({ data }));
  });
}

describe('control API', () => {
  it('injects records (202) that join the audit log of their content type', async () => {
    const r = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.Exchange', records: [{ Id: 'a1', CreationTime: '2026-01-01T00:00:00', Operation: 'Set-Mailbox', OrganizationId: CONTOSO }] } });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ tenantId: CONTOSO, contentType: 'Audit.Exchange', accepted: 1, dropped: 0 });
    const list = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.Exchange&${pub}`), { token });
    expect(list.body.map((b: any) => b.contentId)).toContain(r.body.contentIds[0]);
  });

  it('accepts a tenant domain in control paths too', async () => {
    const r = await sim.call('GET', '/_sim/tenants/contoso.com/state');
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(CONTOSO);
  });

  it('answers bad control input with plain JSON errors', async () => {
    const badType = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.Nope', records: [] } });
    expect(badType.status).toBe(400);
    expect(badType.body.error).toBe('invalid body');
    expect(badType.body.details[0]).toContain('contentType');
    const unknown = await sim.call('GET', '/_sim/tenants/00000000-0000-4000-8000-00000000beef/state');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toContain('unknown tenant');
    const malformed = await sim.call('POST', '/_sim/faults', { body: '{"match":' });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({ error: 'malformed JSON body' });
    const scenario = await sim.call('POST', `/_sim/tenants/${CONTOSO}/activity`, { body: { scenario: 'no-such-scenario' } });
    expect(scenario.status).toBe(400);
    expect(Array.isArray(scenario.body.details.scenarios)).toBe(true);
  });

  it('runs an activity scenario in the tenant state and returns 202', async () => {
    const scenarios = (await sim.call('GET', '/_sim/scenarios')).body.scenarios as string[];
    expect(scenarios.length).toBeGreaterThan(0);
    const r = await sim.call('POST', `/_sim/tenants/${CONTOSO}/activity`, { body: { scenario: scenarios.includes('inbox-rule-forward') ? 'inbox-rule-forward' : scenarios[0], user: 'jane@contoso.com' } });
    expect(r.status).toBe(202);
    expect(r.body.records).toBeGreaterThan(0);
  });

  it('reports tenant state with users, mailboxes, audit config and subscriptions', async () => {
    const r = await sim.call('GET', `/_sim/tenants/${CONTOSO}/state`);
    expect(r.status).toBe(200);
    expect(r.body.users[0]).toMatchObject({ upn: 'jane@contoso.com', accountEnabled: true });
    expect(r.body.subscriptions.map((s: any) => s.contentType)).toContain('Audit.Exchange');
    expect(r.body.auditConfig.unifiedAuditLogIngestionEnabled).toBe(true);
  });

  it('moves the simulated clock forward', async () => {
    const before = Date.parse((await sim.call('GET', '/_sim/clock')).body.now);
    const r = await sim.call('POST', '/_sim/clock', { body: { advanceSeconds: 3600 } });
    expect(Date.parse(r.body.now) - before).toBeGreaterThanOrEqual(3600_000);
  });
});

describe('faults', () => {
  it('answers matching requests with the status and Retry-After, count times, in the resource error shape', async () => {
    const f = await sim.call('POST', '/_sim/faults', { body: { match: { path: '/subscriptions/list', tenantId: CONTOSO }, status: 429, retryAfter: 2, count: 2 } });
    expect(f.status).toBe(201);
    expect(f.body.id).toMatch(/^fault-/);
    const a = await sim.call('GET', feed(`/subscriptions/list?${pub}`), { token });
    const b = await sim.call('GET', feed(`/subscriptions/list?${pub}`), { token });
    const c = await sim.call('GET', feed(`/subscriptions/list?${pub}`), { token });
    expect([a.status, b.status, c.status]).toEqual([429, 429, 200]);
    expect(a.headers['retry-after']).toBe('2');
    expect(a.body.error.code).toBe('AF429');
  });

  it('matches by glob and method, and sends a custom body', async () => {
    await sim.call('POST', '/_sim/faults', { body: { match: { path: '/api/*/activity/feed/subscriptions/con*', method: 'GET' }, status: 500, body: { error: { code: 'AF50000', message: 'custom' } } } });
    const r = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.Exchange&${pub}`), { token });
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: { code: 'AF50000', message: 'custom' } });
    const other = await sim.call('GET', feed(`/subscriptions/list?${pub}`), { token });
    expect(other.status).toBe(200);
  });

  it('gives Graph and the token endpoint their own error shapes for 503 and 429', async () => {
    await sim.call('POST', '/_sim/faults', { body: { match: { path: '/v1.0/' }, status: 503, count: 1 } });
    const g = await sim.call('GET', '/v1.0/organization', { token: await sim.token(CONTOSO, 'https://graph.microsoft.com') });
    expect(g.status).toBe(503);
    expect(g.body.error.code).toBe('ServiceUnavailable');
    expect(g.body.error.innerError['request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await sim.call('POST', '/_sim/faults', { body: { match: { path: '/oauth2/v2.0/token' }, status: 429, retryAfter: 1, count: 1 } });
    const t = await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: { client_id: 'x', grant_type: 'client_credentials' } });
    expect(t.status).toBe(429);
    expect(t.body.error_codes).toHaveLength(1);
  });

  it('delays a response by delayMs', async () => {
    await sim.call('POST', '/_sim/faults', { body: { match: { path: '/subscriptions/list' }, delayMs: 300, count: 1 } });
    const t0 = performance.now();
    const r = await sim.call('GET', feed(`/subscriptions/list?${pub}`), { token });
    expect(r.status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('drops the connection without an answer', async () => {
    await sim.call('POST', '/_sim/faults', { body: { match: { path: '/subscriptions/list' }, dropConnection: true, count: 1 } });
    await expect(sim.call('GET', feed(`/subscriptions/list?${pub}`), { token })).rejects.toThrow();
  });

  it('truncates a body: the full Content-Length is announced, half is sent, then the connection closes', async () => {
    const inj = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.Exchange', records: Array.from({ length: 20 }, (_, i) => ({ Id: `t${i}`, CreationTime: '2026-01-01T00:00:00', Operation: 'X', OrganizationId: CONTOSO })) } });
    await sim.call('POST', '/_sim/faults', { body: { match: { path: '/audit/' }, truncateBody: true, count: 1 } });
    const raw = await rawGet(feed(`/audit/${inj.body.contentIds[0]}?${pub}`), token);
    const [head, body = ''] = raw.data.split('\r\n\r\n');
    const announced = Number(/content-length: (\d+)/i.exec(head!)![1]);
    expect(body.length).toBeLessThan(announced);
    expect(body.length).toBeGreaterThan(0);
    await expect(sim.call('GET', feed(`/audit/${inj.body.contentIds[0]}?${pub}`), { token })).resolves.toMatchObject({ status: 200 });
  });

  it('serves malformed JSON for a blob', async () => {
    const inj = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.Exchange', records: [{ Id: 'm1', CreationTime: '2026-01-01T00:00:00', Operation: 'X', OrganizationId: CONTOSO }] } });
    await sim.call('POST', '/_sim/faults', { body: { match: { path: '/audit/', tenantId: CONTOSO }, malformedJson: true, count: 1 } });
    const r = await sim.call('GET', feed(`/audit/${inj.body.contentIds[0]}?${pub}`), { token });
    expect(r.status).toBe(200);
    expect(() => JSON.parse(r.text)).toThrow();
  });

  it('lists, removes one and clears all faults', async () => {
    const a = await sim.call('POST', '/_sim/faults', { body: { match: { path: '/x' }, status: 500 } });
    await sim.call('POST', '/_sim/faults', { body: { match: { path: '/y' }, status: 500 } });
    expect((await sim.call('GET', '/_sim/faults')).body).toHaveLength(2);
    expect((await sim.call('DELETE', `/_sim/faults/${a.body.id}`)).status).toBe(204);
    expect((await sim.call('GET', '/_sim/faults')).body).toHaveLength(1);
    expect((await sim.call('DELETE', '/_sim/faults')).status).toBe(204);
    expect((await sim.call('GET', '/_sim/faults')).body).toHaveLength(0);
  });

  it('refuses an invalid fault with a plain JSON error', async () => {
    const r = await sim.call('POST', '/_sim/faults', { body: { status: 'soon' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid fault');
  });
});

describe('request log', () => {
  it('shows every call with method, path, tenant, status and time, token requests with their resource', async () => {
    await sim.call('DELETE', '/_sim/requests');
    const graph = await sim.token(CONTOSO, 'https://graph.microsoft.com');
    await sim.call('GET', feed(`/subscriptions/list?${pub}`), { token });
    await sim.call('GET', '/v1.0/organization', { token: graph });
    await sim.call('GET', `/adminapi/beta/${CONTOSO}/InvokeCommand`, {});
    await sim.call('GET', '/contoso.com/v2.0/.well-known/openid-configuration');
    await sim.call('GET', '/no/such/path');
    await sim.call('POST', '/_sim/faults', { body: { match: { path: '/subscriptions/list' }, dropConnection: true, count: 1 } });
    await sim.call('GET', feed(`/subscriptions/list?${pub}`), { token }).catch(() => undefined);
    const log = ((await sim.call('GET', '/_sim/requests')).body as any[]).filter((e) => e.path !== '/_sim/requests');
    const rows = log.map((e) => `${e.method} ${e.path.split('?')[0]} ${e.tenant} ${e.status}`);
    expect(rows).toEqual([
      `POST /${CONTOSO}/oauth2/v2.0/token ${CONTOSO} 200`,
      `GET /api/v1.0/${CONTOSO}/activity/feed/subscriptions/list ${CONTOSO} 200`,
      `GET /v1.0/organization ${CONTOSO} 200`,
      `GET /adminapi/beta/${CONTOSO}/InvokeCommand ${CONTOSO} ${log[3].status}`,
      `GET /contoso.com/v2.0/.well-known/openid-configuration ${CONTOSO} 200`,
      'GET /no/such/path null 404',
      'POST /_sim/faults null 201',
      `GET /api/v1.0/${CONTOSO}/activity/feed/subscriptions/list ${CONTOSO} null`,
    ]);
    expect(log[0].resource).toBe('https://graph.microsoft.com/.default');
    expect(log[1].publisher).toBe(PARTNER);
    expect(log[7].fault).toMatch(/dropConnection/);
    for (const e of log) expect(Date.parse(e.time)).not.toBeNaN();
    const filtered = (await sim.call('GET', `/_sim/requests?path=/v1.0/`)).body as any[];
    expect(filtered.every((e) => e.path.includes('/v1.0/'))).toBe(true);
  });
});

describe('resource servers share the token checks and answer in their own shapes', () => {
  it('Graph refuses a Management token (wrong aud) and malformed JSON with Graph errors', async () => {
    const wrong = await sim.call('GET', '/v1.0/organization', { token });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('InvalidAuthenticationToken');
    const graph = await sim.token(CONTOSO, 'https://graph.microsoft.com');
    const bad = await sim.call('PATCH', '/v1.0/users/jane@contoso.com', { token: graph, body: '{"accountEnabled":' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BadRequest');
    expect(bad.body.error.innerError['request-id']).toBeTruthy();
  });

  it('Graph refuses an expired token', async () => {
    const expired = (await sim.call('POST', '/_sim/tokens', { body: { tenantId: CONTOSO, resource: 'graph', roles: ['User.Read.All'], lifetimeSeconds: -60 } })).body.access_token;
    const r = await sim.call('GET', '/v1.0/organization', { token: expired });
    expect(r.status).toBe(401);
    expect(r.body.error.message).toContain('expired');
  });

  it('the Exchange admin API refuses a Graph token with 401 and WWW-Authenticate, and malformed JSON with 400', async () => {
    const graph = await sim.token(CONTOSO, 'https://graph.microsoft.com');
    const wrong = await sim.call('POST', `/adminapi/beta/${CONTOSO}/InvokeCommand`, { token: graph, body: {} });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Bearer /);
    const exo = await sim.token(CONTOSO, 'https://outlook.office365.com');
    const bad = await sim.call('POST', `/adminapi/beta/${CONTOSO}/InvokeCommand`, { token: exo, body: '{"CmdletInput":' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BadRequest');
  });
});
