/* eslint-disable @typescript-eslint/no-explicit-any -- JSON response bodies are read loosely in tests */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADATUM, CONTOSO, PARTNER, sleep, startTestSim, worldWith, type Res, type TestSim } from './helpers.ts';

let sim: TestSim;
let token: string;
const feed = (p: string, t = CONTOSO) => `/api/v1.0/${t}/activity/feed${p}`;
const pub = `PublisherIdentifier=${PARTNER}`;

function record(i: number, op = 'New-InboxRule') {
  return { Id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, CreationTime: '2026-01-01T10:00:00', Operation: op, OrganizationId: CONTOSO, RecordType: 1, UserId: 'jane@contoso.com', Workload: 'Exchange' };
}

beforeAll(async () => {
  sim = await startTestSim({ world: worldWith({ quirks: { duplicates: 0, outOfOrder: false } }) });
  token = await sim.token(CONTOSO);
});
afterAll(async () => sim.close());
afterEach(async () => {
  await sim.call('DELETE', '/_sim/faults');
  await sim.call('POST', '/_sim/quirks', { body: { duplicates: 0, outOfOrder: false, lateBlobs: 0, pageSize: 100, throttlePerMinute: 2000 } });
});

async function start(ct: string, body?: unknown, t = CONTOSO, tok = token) {
  return sim.call('POST', `${feed(`/subscriptions/start?contentType=${ct}&${pub}`, t)}`, { token: tok, body });
}

describe('subscriptions', () => {
  it('starts, lists and stops subscriptions for all five content types', async () => {
    for (const ct of ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.SharePoint', 'Audit.General', 'DLP.All']) {
      const r = await start(ct);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ contentType: ct, status: 'enabled', webhook: null });
    }
    const list = await sim.call('GET', feed(`/subscriptions/list?${pub}`), { token });
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(5);
    const stop = await sim.call('POST', feed(`/subscriptions/stop?contentType=DLP.All&${pub}`), { token });
    expect(stop.status).toBe(200);
    expect(stop.text).toBe('');
    const after = await sim.call('GET', feed(`/subscriptions/list?${pub}`), { token });
    expect(after.body.find((s: any) => s.contentType === 'DLP.All').status).toBe('disabled');
  });

  it('answers a start with no change with AF20024 (400)', async () => {
    await start('Audit.Exchange');
    const again = await start('Audit.Exchange');
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ error: { code: 'AF20024', message: 'The subscription is already enabled. No property change.' } });
  });

  it('answers an unknown content type with AF20020 and a missing one with AF20001', async () => {
    const bad = await start('Audit.Nope');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('AF20020');
    const missing = await sim.call('POST', feed(`/subscriptions/start?${pub}`), { token });
    expect(missing.body.error.code).toBe('AF20001');
  });

  it('answers malformed JSON in the start body with a Management API error', async () => {
    const r = await sim.call('POST', feed(`/subscriptions/start?contentType=Audit.General&${pub}`), { token, body: '{"webhook":' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toMatch(/^AF2000/);
  });

  it('answers stop of a never-started subscription with AF20022 and listing a stopped one with AF20023', async () => {
    const s = await startTestSim({ world: worldWith() });
    try {
      const t = await s.token(CONTOSO);
      const stop = await s.call('POST', feed(`/subscriptions/stop?contentType=Audit.SharePoint&${pub}`), { token: t });
      expect(stop.body.error.code).toBe('AF20022');
      const list = await s.call('GET', feed(`/subscriptions/content?contentType=Audit.SharePoint&${pub}`), { token: t });
      expect(list.body.error.code).toBe('AF20022');
      await s.call('POST', feed(`/subscriptions/start?contentType=Audit.SharePoint&${pub}`), { token: t });
      await s.call('POST', feed(`/subscriptions/stop?contentType=Audit.SharePoint&${pub}`), { token: t });
      const disabled = await s.call('GET', feed(`/subscriptions/content?contentType=Audit.SharePoint&${pub}`), { token: t });
      expect(disabled.status).toBe(400);
      expect(disabled.body.error.code).toBe('AF20023');
    } finally {
      await s.close();
    }
  });
});

describe('authorisation and tenants', () => {
  it('AF10001 (401) without a token and with a token for another resource', async () => {
    const none = await sim.call('GET', feed('/subscriptions/list'));
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('AF10001');
    const graph = await sim.token(CONTOSO, 'https://graph.microsoft.com');
    const wrongAud = await sim.call('GET', feed('/subscriptions/list'), { token: graph });
    expect(wrongAud.status).toBe(401);
    expect(wrongAud.body.error.code).toBe('AF10001');
  });

  it('AF10001 (401) for an expired token', async () => {
    const expired = (await sim.call('POST', '/_sim/tokens', { body: { tenantId: CONTOSO, resource: 'management', roles: ['ActivityFeed.Read'], lifetimeSeconds: -60 } })).body.access_token;
    const r = await sim.call('GET', feed('/subscriptions/list'), { token: expired });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('AF10001');
  });

  it('AF20010 when the URL tenant differs from the token tenant', async () => {
    const r = await sim.call('GET', feed('/subscriptions/list', ADATUM), { token });
    expect(r.body.error.code).toBe('AF20010');
    expect(r.body.error.message).toContain(ADATUM);
  });

  it('AF20011 when the tenant in the URL and the token is unknown', async () => {
    const ghost = '0badc0de-0000-4000-8000-000000000000';
    const t = (await sim.call('POST', '/_sim/tokens', { body: { tenantId: ghost, resource: 'management', roles: ['ActivityFeed.Read'] } })).body.access_token;
    const r = await sim.call('GET', `/api/v1.0/${ghost}/activity/feed/subscriptions/list`, { token: t });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('AF20011');
  });

  it('AF20013 when the URL tenant is not a GUID', async () => {
    const r = await sim.call('GET', '/api/v1.0/contoso.com/activity/feed/subscriptions/list', { token });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('AF20013');
  });

  it('answers every call with "Tenant … does not exist" while unified audit logging is off', async () => {
    const t = await sim.token(ADATUM);
    const r = await start('Audit.Exchange', undefined, ADATUM, t);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toMatch(/^StartSubscription \[CorrId=[0-9a-f-]{36}\]\[TenantId=d4e5f6a7-8b9c-4d0e-a1f2-3b4c5d6e7f44,ContentType=Audit.Exchange,/);
    expect(r.body.error.message).toContain(`Microsoft.Office.Compliance.Audit.DataServiceException: Tenant ${ADATUM} does not exist.`);
    expect(r.text).not.toMatch(/ at |\.cs:line/);
  });
});

describe('content listing', () => {
  it('lists injected records as content after start, fetches the blob, and honours [start,end) on contentCreated', async () => {
    await start('Audit.Exchange');
    const inj = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.Exchange', records: [record(1), record(2)] } });
    expect(inj.status).toBe(202);
    expect(inj.body.accepted).toBe(2);
    const list = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.Exchange&${pub}`), { token });
    expect(list.status).toBe(200);
    const item = list.body.find((b: any) => b.contentId === inj.body.contentIds[0]);
    expect(Object.keys(item).sort()).toEqual(['contentCreated', 'contentExpiration', 'contentId', 'contentType', 'contentUri']);
    expect(item.contentId).toMatch(/^\d{17}\$\d{17}\$audit_exchange\$Audit_Exchange\$sim\d+$/);
    expect(Date.parse(item.contentExpiration) - Date.parse(item.contentCreated)).toBe(7 * 24 * 3600_000);
    const blob = await sim.call('GET', `${item.contentUri}?${pub}`, { token });
    expect(blob.status).toBe(200);
    expect(blob.body.map((r: any) => r.Id)).toEqual([record(1).Id, record(2).Id]);
    // [start, end): a window ending exactly at contentCreated excludes it, one starting there includes it.
    const created = new Date(item.contentCreated);
    const iso = (d: Date) => d.toISOString().slice(0, 23);
    const before = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.Exchange&startTime=${iso(new Date(created.getTime() - 3600_000))}&endTime=${iso(created)}&${pub}`), { token });
    expect(before.body.some((b: any) => b.contentId === item.contentId)).toBe(false);
    const from = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.Exchange&startTime=${iso(created)}&endTime=${iso(new Date(created.getTime() + 3600_000))}&${pub}`), { token });
    expect(from.body.some((b: any) => b.contentId === item.contentId)).toBe(true);
  });

  it('keeps records injected without an enabled subscription out of the log, as Microsoft does', async () => {
    await sim.call('POST', feed(`/subscriptions/stop?contentType=DLP.All&${pub}`), { token });
    const r = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'DLP.All', records: [record(3)] } });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 0, dropped: 1 });
  });

  it('accepts the documented time formats, with and without a trailing Z', async () => {
    await start('Audit.AzureActiveDirectory');
    const day = new Date(Date.now() - 3600_000);
    const d = day.toISOString().slice(0, 10);
    const next = new Date(day.getTime() + 24 * 3600_000).toISOString().slice(0, 10);
    const hh = day.toISOString().slice(0, 16);
    const hh2 = new Date(day.getTime() + 3600_000).toISOString().slice(0, 16);
    const ss = day.toISOString().slice(0, 19);
    const ss2 = new Date(day.getTime() + 3600_000).toISOString().slice(0, 19);
    for (const [a, b] of [[d, next], [hh, hh2], [ss, ss2], [`${ss}Z`, `${ss2}Z`]]) {
      const r = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.AzureActiveDirectory&startTime=${a}&endTime=${b}&${pub}`), { token });
      expect(r.status, `${a} ${b}: ${r.text}`).toBe(200);
    }
  });

  it('enforces the window rules with AF20030, AF20055 and AF20002', async () => {
    await start('Audit.General');
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19);
    const cases: Array<[string, string]> = [
      [`startTime=${iso(now - 3600_000)}`, 'AF20030'],
      [`endTime=${iso(now)}`, 'AF20030'],
      [`startTime=${iso(now - 25 * 3600_000)}&endTime=${iso(now)}`, 'AF20030'],
      [`startTime=${iso(now - 8 * 24 * 3600_000)}&endTime=${iso(now - 8 * 24 * 3600_000 + 3600_000)}`, 'AF20030'],
      [`startTime=${iso(now)}&endTime=${iso(now - 3600_000)}`, 'AF20055'],
      [`startTime=${iso(now)}&endTime=${iso(now)}`, 'AF20055'],
      [`startTime=yesterday&endTime=${iso(now)}`, 'AF20002'],
      [`startTime=2026-02-30&endTime=2026-03-01`, 'AF20002'],
    ];
    for (const [qs, code] of cases) {
      const r = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.General&${qs}&${pub}`), { token });
      expect(r.status, qs).toBe(400);
      expect(r.body.error.code, qs).toBe(code);
    }
  });

  it('pages with a NextPageUri header (on /api/v1/) until a page lacks it, and rejects a bad nextPage with AF20031', async () => {
    await start('Audit.SharePoint');
    for (let i = 0; i < 7; i++) await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.SharePoint', records: [record(100 + i, 'FileAccessed')] } });
    await sim.call('POST', '/_sim/quirks', { body: { pageSize: 3 } });
    const seen: string[] = [];
    let next: string | undefined = `${sim.url}${feed(`/subscriptions/content?contentType=Audit.SharePoint&${pub}`)}`;
    let pages = 0;
    while (next) {
      const r: Res = await sim.call('GET', next, { token });
      expect(r.status).toBe(200);
      seen.push(...r.body.map((b: any) => b.contentId));
      next = r.headers.nextpageuri;
      if (next) expect(next).toContain(`/api/v1/${CONTOSO}/activity/feed/subscriptions/content?`);
      pages++;
    }
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(7);
    const bad = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.SharePoint&nextPage=garbage&${pub}`), { token });
    expect(bad.body.error.code).toBe('AF20031');
  });

  it('does not list content before the availability latency has passed', async () => {
    await start('Audit.Exchange').catch(() => undefined);
    await sim.call('POST', '/_sim/quirks', { body: { latencySeconds: 600 } });
    try {
      const inj = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.Exchange', records: [record(200)] } });
      const now = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.Exchange&${pub}`), { token });
      expect(now.body.some((b: any) => b.contentId === inj.body.contentIds[0])).toBe(false);
      await sim.call('POST', '/_sim/clock', { body: { advanceSeconds: 601 } });
      const later = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.Exchange&${pub}`), { token });
      expect(later.body.some((b: any) => b.contentId === inj.body.contentIds[0])).toBe(true);
    } finally {
      await sim.call('POST', '/_sim/quirks', { body: { latencySeconds: 0 } });
    }
  });
});

describe('blobs', () => {
  it('AF20052 for a malformed content id, AF20050 for an unknown one and AF20051 after seven days', async () => {
    const s = await startTestSim({ world: worldWith() });
    try {
      const t = await s.token(CONTOSO);
      await s.call('POST', feed(`/subscriptions/start?contentType=Audit.Exchange&${pub}`), { token: t });
      const inj = await s.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.Exchange', records: [record(1)] } });
      const id = inj.body.contentIds[0] as string;
      const malformed = await s.call('GET', feed(`/audit/not-a-content-id?${pub}`), { token: t });
      expect(malformed.body.error.code).toBe('AF20052');
      const unknown = await s.call('GET', feed(`/audit/${id.replace(/sim\d+$/, 'sim999999')}?${pub}`), { token: t });
      expect(unknown.body.error.code).toBe('AF20050');
      await s.call('POST', '/_sim/clock', { body: { advanceSeconds: 7 * 24 * 3600 + 1 } });
      const t2 = await s.token(CONTOSO);
      const expired = await s.call('GET', feed(`/audit/${id}?${pub}`), { token: t2 });
      expect(expired.status).toBe(400);
      expect(expired.body.error.code).toBe('AF20051');
    } finally {
      await s.close();
    }
  });
});

describe('quirks', () => {
  it('repeats an already delivered record in a later blob when duplicates are on', async () => {
    await start('Audit.AzureActiveDirectory').catch(() => undefined);
    await sim.call('POST', '/_sim/quirks', { body: { duplicates: 1 } });
    const a = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.AzureActiveDirectory', records: [record(300, 'UserLoggedIn')] } });
    const b = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.AzureActiveDirectory', records: [record(301, 'UserLoggedIn')] } });
    const blobA = await sim.call('GET', feed(`/audit/${a.body.contentIds[0]}?${pub}`), { token });
    const blobB = await sim.call('GET', feed(`/audit/${b.body.contentIds[0]}?${pub}`), { token });
    expect(blobB.body.map((r: any) => r.Id)).toContain(blobA.body[blobA.body.length - 1].Id);
    expect(blobB.body.length).toBe(2);
  });

  it('shuffles records inside a blob when out-of-order delivery is on', async () => {
    await start('Audit.AzureActiveDirectory').catch(() => undefined);
    await sim.call('POST', '/_sim/quirks', { body: { outOfOrder: true } });
    const recs = Array.from({ length: 30 }, (_, i) => record(400 + i, 'UserLoggedIn'));
    const inj = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.AzureActiveDirectory', records: recs } });
    const blob = await sim.call('GET', feed(`/audit/${inj.body.contentIds[0]}?${pub}`), { token });
    const ids = blob.body.map((r: any) => r.Id);
    expect([...ids].sort()).toEqual(recs.map((r) => r.Id));
    expect(ids).not.toEqual(recs.map((r) => r.Id));
  });

  it('surfaces a late blob inside a window whose contentCreated lies in the past', async () => {
    await start('Audit.AzureActiveDirectory').catch(() => undefined);
    await sim.call('POST', '/_sim/quirks', { body: { lateBlobs: 1, lateBlobDelaySeconds: 300 } });
    const clockBefore = Date.parse((await sim.call('GET', '/_sim/clock')).body.now);
    const inj = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.AzureActiveDirectory', records: [record(500, 'UserLoggedIn')] } });
    const first = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.AzureActiveDirectory&${pub}`), { token });
    expect(first.body.some((b: any) => b.contentId === inj.body.contentIds[0])).toBe(false);
    await sim.call('POST', '/_sim/clock', { body: { advanceSeconds: 301 } });
    const again = await sim.call('GET', feed(`/subscriptions/content?contentType=Audit.AzureActiveDirectory&${pub}`), { token });
    const item = again.body.find((b: any) => b.contentId === inj.body.contentIds[0]);
    expect(item).toBeDefined();
    expect(Date.parse(item.contentCreated)).toBeLessThan(clockBefore + 5_000);
  });
});

describe('first content after subscribing', () => {
  it('holds back the first content of a new subscription for firstContentDelaySeconds', async () => {
    const s = await startTestSim({ world: worldWith({ quirks: { firstContentDelaySeconds: 3600 } }) });
    try {
      const t = await s.token(CONTOSO);
      await s.call('POST', feed(`/subscriptions/start?contentType=Audit.Exchange&${pub}`), { token: t });
      const inj = await s.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.Exchange', records: [record(700)] } });
      const early = await s.call('GET', feed(`/subscriptions/content?contentType=Audit.Exchange&${pub}`), { token: t });
      expect(early.body).toEqual([]);
      await s.call('POST', '/_sim/clock', { body: { advanceSeconds: 3601 } });
      const later = await s.call('GET', feed(`/subscriptions/content?contentType=Audit.Exchange&${pub}`), { token: t });
      expect(later.body.map((b: any) => b.contentId)).toEqual(inj.body.contentIds);
    } finally {
      await s.close();
    }
  });
});

describe('throttling', () => {
  it('answers AF429 with HTTP 403 above the per-tenant per-publisher rate, counting publishers apart', async () => {
    await sim.call('POST', '/_sim/quirks', { body: { throttlePerMinute: 3 } });
    const other = '11111111-2222-4333-8444-555555555555';
    const statuses: number[] = [];
    let last: any;
    for (let i = 0; i < 4; i++) {
      const r = await sim.call('GET', feed(`/subscriptions/list?PublisherIdentifier=${other}`), { token });
      statuses.push(r.status);
      last = r.body;
    }
    expect(statuses).toEqual([200, 200, 200, 403]);
    expect(last).toEqual({ error: { code: 'AF429', message: `Too many requests. Method=ListSubscriptions, PublisherId=${other}` } });
    const otherPublisher = await sim.call('GET', feed('/subscriptions/list?PublisherIdentifier=22222222-2222-4333-8444-555555555555'), { token });
    expect(otherPublisher.status).toBe(200);
  });

  it('counts calls without PublisherIdentifier against the shared all-zero publisher', async () => {
    await sim.call('POST', '/_sim/quirks', { body: { throttlePerMinute: 1 } });
    await sim.call('GET', feed('/subscriptions/list'), { token });
    const r = await sim.call('GET', feed('/subscriptions/list'), { token });
    expect(r.status).toBe(403);
    expect(r.body.error.message).toContain('PublisherId=00000000-0000-0000-0000-000000000000');
  });
});

describe('webhooks', () => {
  let receiver: Server;
  let hookUrl: string;
  const got: Array<{ headers: IncomingMessage['headers']; body: any }> = [];
  let answer = 200;
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let data = '';
      req.on('data', (d) => (data += d));
      req.on('end', () => {
        got.push({ headers: req.headers, body: data ? JSON.parse(data) : undefined });
        res.statusCode = answer;
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const addr = receiver.address() as { port: number };
    hookUrl = `http://127.0.0.1:${addr.port}/o365`;
  });
  afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

  it('validates the webhook with Webhook-ValidationCode and the code in the body, then posts notifications with Webhook-AuthID', async () => {
    got.length = 0;
    answer = 200;
    const r = await start('Audit.Exchange', { webhook: { address: hookUrl, authId: 'o365-7f3c', expiration: '' } });
    expect(r.status).toBe(200);
    expect(r.body.webhook).toEqual({ status: 'enabled', address: hookUrl, authId: 'o365-7f3c', expiration: null });
    expect(got[0]!.headers['webhook-validationcode']).toBe(got[0]!.body.validationCode);
    expect(got[0]!.headers['webhook-authid']).toBe('o365-7f3c');
    const inj = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.Exchange', records: [record(600)] } });
    for (let i = 0; i < 100 && got.length < 2; i++) await sleep(50);
    const note = got[1]!;
    expect(note.headers['webhook-authid']).toBe('o365-7f3c');
    expect(note.body).toHaveLength(1);
    expect(note.body[0]).toMatchObject({ tenantId: CONTOSO, clientId: '6f1e2d3c-0000-4000-8000-00000000a001', contentType: 'Audit.Exchange', contentId: inj.body.contentIds[0] });
    expect(Object.keys(note.body[0]).sort()).toEqual(['clientId', 'contentCreated', 'contentExpiration', 'contentId', 'contentType', 'contentUri', 'tenantId']);
    const notes = await sim.call('GET', feed(`/subscriptions/notifications?contentType=Audit.Exchange&${pub}`), { token });
    expect(notes.status).toBe(200);
    const n = notes.body.find((x: any) => x.contentId === inj.body.contentIds[0]);
    expect(n.notificationStatus).toBe('Succeeded');
    expect(n.notificationSent).toMatch(/Z$/);
  });

  it('retries a failing notification and records the failure', async () => {
    await sim.call('POST', '/_sim/quirks', { body: { webhookAttempts: 2, webhookRetryBaseMs: 50 } });
    got.length = 0;
    answer = 500;
    const inj = await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.Exchange', records: [record(601)] } });
    for (let i = 0; i < 100 && got.length < 2; i++) await sleep(50);
    expect(got.length).toBe(2);
    await sleep(100);
    const notes = await sim.call('GET', feed(`/subscriptions/notifications?contentType=Audit.Exchange&${pub}`), { token });
    expect(notes.body.find((x: any) => x.contentId === inj.body.contentIds[0]).notificationStatus).toMatch(/^Failed/);
    answer = 200;
  });

  it('disables the webhook after failing notifications when webhookDisableAfterFailures is set, and start re-enables it', async () => {
    await sim.call('POST', '/_sim/quirks', { body: { webhookAttempts: 1, webhookDisableAfterFailures: 2 } });
    answer = 500;
    got.length = 0;
    for (const i of [602, 603]) await sim.call('POST', `/_sim/tenants/${CONTOSO}/records`, { body: { contentType: 'Audit.Exchange', records: [record(i)] } });
    for (let i = 0; i < 100 && got.length < 2; i++) await sleep(50);
    await sleep(100);
    const list = await sim.call('GET', feed(`/subscriptions/list?${pub}`), { token });
    expect(list.body.find((s: any) => s.contentType === 'Audit.Exchange').webhook.status).toBe('disabled');
    answer = 200;
    const again = await start('Audit.Exchange', { webhook: { address: hookUrl, authId: 'o365-7f3c', expiration: '' } });
    expect(again.status).toBe(200);
    expect(again.body.webhook.status).toBe('enabled');
    await sim.call('POST', '/_sim/quirks', { body: { webhookAttempts: 3, webhookDisableAfterFailures: 0 } });
  });

  it('fails start with AF20021 when validation does not answer 200, keeping the old webhook state', async () => {
    answer = 404;
    const r = await start('Audit.General', { webhook: { address: hookUrl, authId: 'x' } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('AF20021');
    answer = 200;
  });

  it('refuses a non-HTTPS, non-loopback address with AF20021 and an expiry in the past with AF20003', async () => {
    const plain = await start('Audit.General', { webhook: { address: 'http://hooks.msp.example/o365' } });
    expect(plain.body.error.code).toBe('AF20021');
    const past = await start('Audit.General', { webhook: { address: hookUrl, expiration: '2020-01-01T00:00:00Z' } });
    expect(past.body.error.code).toBe('AF20003');
  });
});
