/* eslint-disable @typescript-eslint/no-explicit-any -- JSON response bodies are read loosely, as a generic client would */
// The simulator called the way public, non-tenantwatch clients call Microsoft, using only Node's
// built-ins and undici's `fetch` with an Agent that trusts the simulator's CA (no helper that knows the
// simulator's habits). Each test says which client's behaviour it imitates; the behaviour was read from
// the public sources and Microsoft's reference pages (office-365-management-activity-api-reference,
// v2-oauth2-client-creds-grant-flow, RFC 6749 §2.3.1); no code is copied from them.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimServer } from '../src/index.ts';
import type { SimServer } from '../src/server.ts';
import { APP_ID, CONTOSO, PARTNER, SECRET, worldWith } from './helpers.ts';

let sim: SimServer;
let agent: Agent;
const feedRoot = (ver = 'v1.0') => `${sim.url}/api/${ver}/${CONTOSO}/activity/feed`;

async function http(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body, dispatcher: agent });
  const text = await res.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** v2.0 client-credentials token, form-encoded, scope only (no `resource`), as MSAL and plain-HTTP scripts send it. */
async function v2Token(tenant = CONTOSO, scope = 'https://manage.office.com/.default'): Promise<string> {
  const r = await http(`${sim.url}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: APP_ID, client_secret: SECRET, grant_type: 'client_credentials', scope }).toString(),
  });
  expect(r.status).toBe(200);
  return r.body.access_token as string;
}

async function inject(count: number, contentType = 'Audit.General'): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await http(`${sim.url}/_sim/tenants/${CONTOSO}/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contentType, records: [{ Id: crypto.randomUUID(), CreationTime: new Date().toISOString().slice(0, 19), Operation: 'FileAccessed', OrganizationId: CONTOSO, RecordType: 6, UserId: 'jane@contoso.com', Workload: 'SharePoint' }] }),
    });
    expect(res.status).toBe(202);
  }
}

async function setQuirks(q: Record<string, unknown>) {
  await http(`${sim.url}/_sim/quirks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(q) });
}

beforeAll(async () => {
  sim = await startSimServer({ world: worldWith({ quirks: { duplicates: 0, outOfOrder: false } }), latencySeconds: 0 });
  agent = new Agent({ connect: { ca: sim.ca! } });
});
afterAll(async () => {
  await agent.close();
  await sim.close();
});

describe('a Rust collector in the style of office365-audit-log-collector', () => {
  // That collector logs in on the v1 endpoint with `resource=https://manage.office.com`, sends
  // "bearer <token>" in lower case, sends `content-length: 0` on bodiless GETs and POSTs, compares
  // `status` case-insensitively, lists content with startTime/endTime plus PublisherIdentifier, and
  // follows the `NextPageUri` header verbatim until it is absent.
  it('gets a v1 token by resource, subscribes with an empty POST, and lists every blob by following NextPageUri verbatim', async () => {
    const login = await http(`${sim.url}/${CONTOSO}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: APP_ID, client_secret: SECRET, resource: 'https://manage.office.com' }).toString(),
    });
    expect(login.status).toBe(200);
    const auth = { authorization: `bearer ${login.body.access_token as string}` };
    const start = await http(`${feedRoot()}/subscriptions/start?contentType=Audit.SharePoint`, { method: 'POST', headers: { ...auth, 'content-length': '0' } });
    expect(start.status).toBe(200);
    const list = await http(`${feedRoot()}/subscriptions/list`, { headers: { ...auth, 'content-length': '0' } });
    expect(list.status).toBe(200);
    expect(list.body.some((s: any) => s.contentType === 'Audit.SharePoint' && String(s.status).toLowerCase() === 'enabled')).toBe(true);

    await setQuirks({ pageSize: 2 });
    await inject(5, 'Audit.SharePoint');
    const now = Date.now();
    const fmt = (ms: number) => new Date(ms).toISOString().slice(0, 19); // YYYY-MM-DDTHH:MM:SS
    let url: string | null = `${feedRoot()}/subscriptions/content?contentType=Audit.SharePoint&startTime=${fmt(now - 3600_000)}&endTime=${fmt(now + 60_000)}&PublisherIdentifier=${PARTNER}`;
    const ids: string[] = [];
    let pages = 0;
    while (url && pages < 10) {
      const page = await http(url, { headers: auth });
      expect(page.status).toBe(200);
      for (const d of page.body) ids.push(d.contentId);
      url = page.headers.get('NextPageUri');
      pages++;
    }
    expect(pages).toBe(3);
    expect(new Set(ids).size).toBe(5);
    await setQuirks({ pageSize: 100 });
  });
});

describe('a collector that lists the last 24 hours without startTime/endTime', () => {
  // Python collectors and the reference's own sample request omit both times. The reference says a
  // truncated page's NextPageUri then carries the 24-hour interval that preceded the request.
  it('pages through the default window, the NextPageUri naming that 24-hour window explicitly', async () => {
    const token = await v2Token();
    await http(`${feedRoot()}/subscriptions/start?contentType=Audit.General&PublisherIdentifier=${PARTNER}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    await setQuirks({ pageSize: 2 });
    await inject(3);
    const first = await http(`${feedRoot()}/subscriptions/content?contentType=Audit.General&PublisherIdentifier=${PARTNER}`, { headers: { authorization: `Bearer ${token}` } });
    expect(first.status).toBe(200);
    expect(first.body).toHaveLength(2);
    const next = first.headers.get('nextpageuri');
    expect(next).toBeTruthy();
    const u = new URL(next!);
    expect(u.pathname).toBe(`/api/v1/${CONTOSO}/activity/feed/subscriptions/content`);
    const start = u.searchParams.get('startTime')!;
    const end = u.searchParams.get('endTime')!;
    expect(start).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    expect(Date.parse(`${end}Z`) - Date.parse(`${start}Z`)).toBe(24 * 3600_000);
    expect(u.searchParams.get('nextPage')).toBeTruthy();
    const second = await http(next!, { headers: { authorization: `Bearer ${token}` } });
    expect(second.status).toBe(200);
    expect(second.body).toHaveLength(1);
    expect(second.headers.get('NextPageUri')).toBeNull();
    await setQuirks({ pageSize: 100 });
  });

  it('accepts the three documented date forms, and a trailing Z', async () => {
    const token = await v2Token();
    const d = new Date();
    const day = d.toISOString().slice(0, 10);
    const prevDay = new Date(d.getTime() - 24 * 3600_000).toISOString().slice(0, 10);
    const hm = (ms: number) => new Date(ms).toISOString().slice(0, 16);
    const windows = [
      [prevDay, day],
      [hm(d.getTime() - 3600_000), hm(d.getTime() + 60_000)],
      [`${hm(d.getTime() - 3600_000)}:00`, `${hm(d.getTime() + 60_000)}:00`],
      [`${hm(d.getTime() - 3600_000)}:00Z`, `${hm(d.getTime() + 60_000)}:00Z`],
    ];
    for (const [s, e] of windows) {
      const r = await http(`${feedRoot()}/subscriptions/content?contentType=Audit.General&startTime=${s}&endTime=${e}&PublisherIdentifier=${PARTNER}`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status, `${s} … ${e}`).toBe(200);
      expect(Array.isArray(r.body)).toBe(true);
    }
  });

  it('answers only one of startTime/endTime with AF20030 in Microsoft error body', async () => {
    const token = await v2Token();
    const r = await http(`${feedRoot()}/subscriptions/content?contentType=Audit.General&startTime=${new Date().toISOString().slice(0, 10)}`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: { code: 'AF20030', message: 'Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.' } });
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  });
});

describe('collectors that spell PublisherIdentifier differently', () => {
  // The reference writes `PublisherIdentifier`; some scripts lower-case query names
  // (`publisheridentifier`) or shout them. ASP.NET binds query names case-insensitively.
  it('counts a lower- or upper-case publisherIdentifier against that publisher, not the shared quota', async () => {
    const token = await v2Token();
    const other = 'abcdef01-2345-4678-9abc-def012345678';
    for (const name of ['publisheridentifier', 'PUBLISHERIDENTIFIER', 'PublisherIdentifier']) {
      const r = await http(`${feedRoot()}/subscriptions/list?${name}=${other}`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
    }
    const log = await http(`${sim.url}/_sim/requests?path=subscriptions/list`);
    const mine = log.body.filter((e: any) => /publisheridentifier=abcdef01/i.test(e.path));
    expect(mine).toHaveLength(3);
    for (const e of mine) expect(e.publisher).toBe(other);
  });
});

describe('token requests as generic OAuth clients make them', () => {
  it('issues a Management token for a resource-less v2 scope given as the app id URI or the app id GUID', async () => {
    for (const scope of ['https://manage.office.com/.default', 'c5393580-f805-4401-95e8-94b7a6ef2fc2/.default']) {
      const t = await v2Token(CONTOSO, scope);
      const claims = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());
      expect(claims.aud).toBe('https://manage.office.com');
      expect(claims.tid).toBe(CONTOSO);
      expect(claims.roles).toContain('ActivityFeed.Read');
    }
  });

  // oauthlib/authlib-style clients default to client_secret_basic, which the metadata advertises.
  it('accepts client_secret_basic (HTTP Basic with the form-encoded id and secret)', async () => {
    const basic = Buffer.from(`${encodeURIComponent(APP_ID)}:${encodeURIComponent(SECRET)}`).toString('base64');
    const r = await http(`${sim.url}/${CONTOSO}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' }).toString(),
    });
    expect(r.status).toBe(200);
    expect(r.body.token_type).toBe('Bearer');
    const wrong = Buffer.from(`${APP_ID}:not-the-secret`).toString('base64');
    const bad = await http(`${sim.url}/${CONTOSO}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${wrong}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' }).toString(),
    });
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe('invalid_client');
    expect(bad.body.error_codes).toEqual([7000215]);
  });

  it('ignores the extra form fields MSAL adds and answers with the documented success fields', async () => {
    const r = await http(`${sim.url}/${CONTOSO}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
      body: new URLSearchParams({ client_id: APP_ID, client_secret: SECRET, grant_type: 'client_credentials', scope: 'https://outlook.office365.com/.default', 'x-client-SKU': 'msal.js.node', 'x-client-VER': '2.0', 'x-ms-lib-capability': 'retry-after, h429', 'x-client-current-telemetry': '5|771,2,,,|,', 'client-request-id': crypto.randomUUID() }).toString(),
    });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['access_token', 'expires_in', 'ext_expires_in', 'token_type']);
    expect(typeof r.body.expires_in).toBe('number');
  });
});

describe('a webhook subscriber following the reference sample', () => {
  let receiver: Server;
  let hookUrl: string;
  const seen: { headers: IncomingMessage['headers']; body: any }[] = [];
  let answer = 200;
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: data ? JSON.parse(data) : undefined });
        res.statusCode = answer;
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const addr = receiver.address();
    hookUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/o365/`;
  });
  afterAll(async () => new Promise<void>((r) => receiver.close(() => r())));

  // The reference's sample start request: `Content-Type: application/json; utf-8` and `"expiration": ""`.
  it('validates the webhook with the code in header and body, then answers with the documented subscription shape', async () => {
    const token = await v2Token();
    const r = await http(`${feedRoot()}/subscriptions/start?contentType=Audit.Exchange&PublisherIdentifier=${PARTNER}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; utf-8' },
      body: JSON.stringify({ webhook: { address: hookUrl, authId: 'o365activityapinotification', expiration: '' } }),
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ contentType: 'Audit.Exchange', status: 'enabled', webhook: { status: 'enabled', address: hookUrl, authId: 'o365activityapinotification', expiration: null } });
    const validation = seen[0]!;
    expect(validation.headers['webhook-authid']).toBe('o365activityapinotification');
    expect(validation.headers['webhook-validationcode']).toBeTruthy();
    expect(validation.body).toEqual({ validationCode: validation.headers['webhook-validationcode'] });
  });

  it('sends notifications as an array with tenantId and clientId, and treats an answer other than 200 as a failure', async () => {
    await setQuirks({ webhookAttempts: 2, webhookRetryBaseMs: 50 });
    seen.length = 0;
    answer = 202;
    await inject(1, 'Audit.Exchange');
    const deadline = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(seen.length).toBe(2); // the 202 was retried
    const note = seen[0]!;
    expect(note.headers['webhook-authid']).toBe('o365activityapinotification');
    expect(Array.isArray(note.body)).toBe(true);
    expect(Object.keys(note.body[0]).sort()).toEqual(['clientId', 'contentCreated', 'contentExpiration', 'contentId', 'contentType', 'contentUri', 'tenantId']);
    expect(note.body[0].tenantId).toBe(CONTOSO);
    expect(note.body[0].clientId).toBe(APP_ID);
    answer = 200;
  });

  // The reference documents NextPageUri paging for /subscriptions/notifications as for /content.
  it('pages the notification history with NextPageUri, keeping the documented attempt fields', async () => {
    seen.length = 0;
    await inject(3, 'Audit.Exchange');
    const deadline = Date.now() + 5000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await setQuirks({ pageSize: 2 });
    const token = await v2Token();
    let url: string | null = `${feedRoot()}/subscriptions/notifications?contentType=Audit.Exchange&PublisherIdentifier=${PARTNER}`;
    const all: any[] = [];
    let pages = 0;
    while (url && pages < 10) {
      const r = await http(url, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
      all.push(...r.body);
      url = r.headers.get('NextPageUri');
      pages++;
    }
    await setQuirks({ pageSize: 100 });
    expect(pages).toBeGreaterThan(1);
    expect(all.length).toBeGreaterThanOrEqual(4);
    for (const n of all) expect(Object.keys(n).sort()).toEqual(['contentCreated', 'contentExpiration', 'contentId', 'contentType', 'contentUri', 'notificationSent', 'notificationStatus']);
  });

  // The reference: `expiration` is "a datetime after which notifications should no longer be sent",
  // list shows the webhook as enabled, disabled or expired, and start "re-enable[s] an expired webhook
  // by specifying a later or null expiration date".
  it('stops notifying after the webhook expiration, lists it as expired, and start with a null expiration re-enables it', async () => {
    const token = await v2Token();
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const clock = await http(`${sim.url}/_sim/clock`);
    const expiration = new Date(Date.parse(clock.body.now) + 60_000).toISOString();
    const start = await http(`${feedRoot()}/subscriptions/start?contentType=Audit.Exchange&PublisherIdentifier=${PARTNER}`, { method: 'POST', headers: auth, body: JSON.stringify({ webhook: { address: hookUrl, authId: 'o365activityapinotification', expiration } }) });
    expect(start.status).toBe(200);
    expect(start.body.webhook.expiration).toBe(expiration);
    await http(`${sim.url}/_sim/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceSeconds: 120 }) });
    const list = await http(`${feedRoot()}/subscriptions/list?PublisherIdentifier=${PARTNER}`, { headers: auth });
    expect(list.body.find((s: any) => s.contentType === 'Audit.Exchange').webhook.status).toBe('expired');
    seen.length = 0;
    await inject(1, 'Audit.Exchange');
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toHaveLength(0);
    const again = await http(`${feedRoot()}/subscriptions/start?contentType=Audit.Exchange&PublisherIdentifier=${PARTNER}`, { method: 'POST', headers: auth, body: JSON.stringify({ webhook: { address: hookUrl, authId: 'o365activityapinotification', expiration: null } }) });
    expect(again.status).toBe(200);
    expect(again.body.webhook).toEqual({ status: 'enabled', address: hookUrl, authId: 'o365activityapinotification', expiration: null });
  });
});

describe('Management API error messages as the reference words them', () => {
  it('AF10001 names ActivityFeed.Read and AF20023 names who disabled the subscription', async () => {
    const graph = await v2Token(CONTOSO, 'https://graph.microsoft.com/.default');
    const noRole = await http(`${sim.url}/_sim/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tenantId: CONTOSO, resource: 'management', roles: ['ServiceHealth.Read'] }) });
    const r = await http(`${feedRoot()}/subscriptions/list`, { headers: { authorization: `Bearer ${noRole.body.access_token as string}` } });
    expect(r.status).toBe(401);
    expect(r.body.error).toEqual({ code: 'AF10001', message: 'The permission set (ServiceHealth.Read) sent in the request did not include the expected permission ActivityFeed.Read.' });
    expect(graph).toBeTruthy();
    const token = await v2Token();
    await http(`${feedRoot()}/subscriptions/start?contentType=DLP.All`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    await http(`${feedRoot()}/subscriptions/stop?contentType=DLP.All`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const disabled = await http(`${feedRoot()}/subscriptions/content?contentType=DLP.All`, { headers: { authorization: `Bearer ${token}` } });
    expect(disabled.body).toEqual({ error: { code: 'AF20023', message: 'The subscription was disabled by a tenant admin.' } });
  });

  it('AF20054 for a malformed Accept-Language on dlpSensitiveTypes', async () => {
    const token = await v2Token();
    const r = await http(`${feedRoot()}/resources/dlpSensitiveTypes?PublisherIdentifier=${PARTNER}`, { headers: { authorization: `Bearer ${token}`, 'accept-language': '*;;q' } });
    expect(r.body).toEqual({ error: { code: 'AF20054', message: 'Invalid syntax in Accept-Language header.' } });
  });
});

describe('an Exchange admin API caller in the style of CIPP', () => {
  // CIPP's PowerShell posts {"CmdletInput":{"CmdletName","Parameters"}} to /adminapi/beta/{tenant}/InvokeCommand
  // where {tenant} is often the customer's default domain, with `Prefer: odata.maxpagesize = 1000` (spaces
  // included), an X-AnchorMailbox of the system mailbox, and follows @odata.nextLink.
  it('answers InvokeCommand addressed by a tenant domain as by its GUID, in the OData envelope', async () => {
    const token = await v2Token(CONTOSO, 'https://outlook.office365.com/.default');
    for (const seg of [CONTOSO, 'contoso.com']) {
      const r = await http(`${sim.url}/adminapi/beta/${seg}/InvokeCommand`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json; charset=utf-8',
          prefer: 'odata.maxpagesize = 1000',
          'parameter-based-routing': 'true',
          'x-anchormailbox': `UPN:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.com`,
        },
        body: JSON.stringify({ CmdletInput: { CmdletName: 'Get-AcceptedDomain', Parameters: {} } }),
      });
      expect(r.status, seg).toBe(200);
      expect(r.body['@odata.context']).toContain('$metadata#Collection(Exchange.GenericHashTable)');
      expect(r.body['@adminapi.warnings']).toEqual([]);
      expect(r.body.value.map((d: any) => d.DomainName)).toContain('contoso.com');
    }
  });

  it('still refuses a token of another tenant when the path names a domain', async () => {
    const partnerToken = await http(`${sim.url}/_sim/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tenantId: PARTNER, resource: 'exchange', roles: ['Exchange.ManageAsApp'] }) });
    const r = await http(`${sim.url}/adminapi/beta/contoso.com/InvokeCommand`, {
      method: 'POST',
      headers: { authorization: `Bearer ${partnerToken.body.access_token as string}`, 'content-type': 'application/json' },
      body: JSON.stringify({ CmdletInput: { CmdletName: 'Get-AcceptedDomain' } }),
    });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });
});

describe('a partner-centre style reader of GDAP relationships and contracts', () => {
  // Partner tools (CIPP, the Graph PowerShell SDK's Get-MgTenantRelationshipDelegatedAdminRelationship) read
  // these from the partner tenant; the v1.0 resource pages list the properties (openType false).
  it('returns delegatedAdminRelationship items with exactly the documented properties', async () => {
    const token = await v2Token(PARTNER, 'https://graph.microsoft.com/.default');
    const r = await http(`${sim.url}/v1.0/tenantRelationships/delegatedAdminRelationships`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    const documented = ['@odata.etag', '@odata.type', 'accessDetails', 'activatedDateTime', 'autoExtendDuration', 'createdDateTime', 'customer', 'displayName', 'duration', 'endDateTime', 'id', 'lastModifiedDateTime', 'status'];
    const reseller = ['indirectProviderTenantId', 'isPartnerConsentPending'];
    expect(r.body.value.length).toBeGreaterThan(0);
    for (const item of r.body.value) {
      const extra = item['@odata.type'] === '#microsoft.graph.resellerDelegatedAdminRelationship' ? reseller : [];
      expect(Object.keys(item).sort()).toEqual([...documented, ...extra].sort());
      expect(Object.keys(item.customer).sort()).toEqual(['displayName', 'tenantId']);
    }
    const contracts = await http(`${sim.url}/v1.0/contracts`, { headers: { authorization: `Bearer ${token}` } });
    expect(contracts.status).toBe(200);
    for (const c of contracts.body.value) expect(Object.keys(c).sort()).toEqual(['contractType', 'customerId', 'defaultDomainName', 'deletedDateTime', 'displayName', 'id']);
  });
});

describe('a Python requests-session collector', () => {
  // Python collectors commonly keep one session whose headers carry `Accept: application/json` and
  // `Content-Type: application/json` on every call, so bodiless GETs and POSTs declare JSON.
  it('accepts bodiless start/stop/list calls that declare a JSON content type', async () => {
    const token = await v2Token();
    const headers = { accept: 'application/json', authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const start = await http(`${feedRoot()}/subscriptions/start?contentType=Audit.AzureActiveDirectory&PublisherIdentifier=${PARTNER}`, { method: 'POST', headers });
    expect(start.status).toBe(200);
    expect(start.body).toEqual({ contentType: 'Audit.AzureActiveDirectory', status: 'enabled', webhook: null });
    const list = await http(`${feedRoot()}/subscriptions/list?PublisherIdentifier=${PARTNER}`, { headers });
    expect(list.status).toBe(200);
    const stop = await http(`${feedRoot()}/subscriptions/stop?contentType=Audit.AzureActiveDirectory&PublisherIdentifier=${PARTNER}`, { method: 'POST', headers });
    expect(stop.status).toBe(200);
    expect(stop.text).toBe('');
  });
});

describe('a Graph SDK-style pager', () => {
  // Graph SDK page iterators follow @odata.nextLink verbatim until it is absent; errors are read from
  // {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}} (/graph/errors).
  it('follows @odata.nextLink verbatim and reads Graph errors in the documented shape', async () => {
    const partner = await v2Token(PARTNER, 'https://graph.microsoft.com/.default');
    let url: string | undefined = `${sim.url}/v1.0/tenantRelationships/delegatedAdminRelationships?$top=1`;
    const ids: string[] = [];
    let pages = 0;
    while (url && pages < 20) {
      const r = await http(url, { headers: { authorization: `Bearer ${partner}` } });
      expect(r.status).toBe(200);
      expect(r.body.value.length).toBeLessThanOrEqual(1);
      ids.push(...r.body.value.map((x: any) => x.id));
      url = r.body['@odata.nextLink'];
      pages++;
    }
    expect(pages).toBeGreaterThan(1);
    expect(new Set(ids).size).toBe(ids.length);
    const all = await http(`${sim.url}/v1.0/tenantRelationships/delegatedAdminRelationships`, { headers: { authorization: `Bearer ${partner}` } });
    expect(ids.length).toBe(all.body.value.length);
    const token = await v2Token(CONTOSO, 'https://graph.microsoft.com/.default');
    const crid = crypto.randomUUID();
    const missing = await http(`${sim.url}/v1.0/users/nobody@contoso.com`, { headers: { authorization: `Bearer ${token}`, 'client-request-id': crid } });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('Request_ResourceNotFound');
    expect(Object.keys(missing.body.error.innerError).sort()).toEqual(['client-request-id', 'date', 'request-id']);
    expect(missing.body.error.innerError['client-request-id']).toBe(crid);
    const revoke = await http(`${sim.url}/v1.0/users/jane@contoso.com/revokeSignInSessions`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(revoke.status).toBe(200);
    expect(revoke.body.value).toBe(true);
  });
});

describe("the PowerShell script of Microsoft's troubleshooting page", () => {
  // troubleshooting-the-office-365-management-activity-api: Invoke-RestMethod -Method Post to
  // `.../activity/feed//subscriptions/start?contentType=Audit.SharePoint` (a doubled slash) with a JSON
  // string body and no -ContentType, which PowerShell labels application/x-www-form-urlencoded; then
  // the blob GET with `?PublisherIdentifier=` appended to the contentUri.
  it('starts a webhook subscription through a doubled slash with a JSON body labelled as a form', async () => {
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = 200;
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const addr = receiver.address();
      const address = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/o365/`;
      const token = await v2Token();
      const r = await http(`${feedRoot()}//subscriptions/start?contentType=Audit.SharePoint`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: JSON.stringify({ webhook: { address, authId: 'o365activityapinotification', expiration: '' } }),
      });
      expect(r.status).toBe(200);
      expect(r.body.webhook).toEqual({ status: 'enabled', address, authId: 'o365activityapinotification', expiration: null });
      await inject(1, 'Audit.SharePoint');
      const list = await http(`${feedRoot()}/subscriptions/content?contentType=Audit.SharePoint`, { headers: { authorization: `Bearer ${token}` } });
      const uri = list.body[list.body.length - 1].contentUri as string;
      const blob = await http(`${uri}?PublisherIdentifier=${PARTNER}`, { headers: { authorization: `Bearer ${token}` } });
      expect(blob.status).toBe(200);
      expect(Array.isArray(blob.body)).toBe(true);
      const log = await http(`${sim.url}/_sim/requests?path=activity/feed/audit`);
      expect(log.body.at(-1).publisher).toBe(PARTNER);
    } finally {
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });
});
