// The directory half over real HTTPS: the simulator started with startSimServer (demo world), tokens
// from its token endpoint by client secret, a plain undici client trusting the simulator's CA.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request, type Dispatcher } from 'undici';
import { startSimServer } from './index.ts';
import type { SimServer } from './server.ts';

const APP_ID = '6f1e2d3c-0000-4000-8000-00000000a001';
const SECRET = 'sim-secret-1';
const CONTOSO = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const ADATUM = 'd4e5f6a7-8b9c-4d0e-a1f2-3b4c5d6e7f44';
const FABRIKAM = '5b3d8e21-4f6a-4c2e-8d19-7a0c3e5f1b22';
const NORTHWIND = '8c1e4b77-2d3f-4a6b-9e80-1f2a3b4c5d33';
const PARTNER = '9a9a9a9a-0000-4000-8000-000000000001';

// Response bodies are read loosely in tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let server: SimServer;
let dispatcher: Dispatcher;

async function call(method: string, path: string, o: { body?: unknown; form?: Record<string, string>; token?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  let body: string | undefined;
  if (o.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(o.form).toString();
  } else if (o.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(o.body);
  }
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  const res = await request(path.startsWith('http') ? path : `${server.url}${path}`, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher });
  const text = await res.body.text();
  let json: Json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

const tokens = new Map<string, string>();
async function token(tenant: string, resource: 'https://graph.microsoft.com' | 'https://outlook.office365.com'): Promise<string> {
  const key = `${tenant}|${resource}`;
  const hit = tokens.get(key);
  if (hit) return hit;
  const r = await call('POST', `/${tenant}/oauth2/v2.0/token`, { form: { client_id: APP_ID, client_secret: SECRET, grant_type: 'client_credentials', scope: `${resource}/.default` } });
  if (r.status !== 200) throw new Error(`token: HTTP ${r.status}`);
  tokens.set(key, r.json.access_token as string);
  return r.json.access_token as string;
}

const graph = async (method: string, path: string, body?: unknown, tenant = CONTOSO) => call(method, `/v1.0${path}`, { body, token: await token(tenant, 'https://graph.microsoft.com') });

const exo = async (cmdlet: string, parameters: Record<string, unknown> = {}, tenant = CONTOSO) =>
  call('POST', `/adminapi/beta/${tenant}/InvokeCommand`, {
    body: { CmdletInput: { CmdletName: cmdlet, Parameters: parameters } },
    token: await token(tenant, 'https://outlook.office365.com'),
    headers: { 'X-AnchorMailbox': `APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${tenant}`, Prefer: 'odata.maxpagesize=1000' },
  });

const state = async (tenant = CONTOSO): Promise<Json> => (await call('GET', `/_sim/tenants/${tenant}/state`)).json;

beforeAll(async () => {
  server = await startSimServer({ world: 'demo', latencySeconds: 0 });
  dispatcher = new Agent({ connect: { ca: server.ca ?? undefined } });
});

afterAll(async () => {
  await dispatcher?.close();
  await server?.close();
});

describe('directory over HTTPS', () => {
  it('reads a user with accountEnabled through $select', async () => {
    const r = await graph('GET', '/users/jane@contoso.com?$select=id,userPrincipalName,accountEnabled,mail');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ userPrincipalName: 'jane@contoso.com', accountEnabled: true, mail: 'jane@contoso.com' });
  });

  it('rejects a Graph token used against the Exchange admin API', async () => {
    const r = await call('POST', `/adminapi/beta/${CONTOSO}/InvokeCommand`, {
      body: { CmdletInput: { CmdletName: 'Get-Mailbox', Parameters: {} } },
      token: await token(CONTOSO, 'https://graph.microsoft.com'),
    });
    expect(r.status).toBe(401);
  });

  it('runs the takeover scenario, then shows the hidden rule only with IncludeHidden and RuleIdentity digits intact', async () => {
    const act = await call('POST', `/_sim/tenants/${CONTOSO}/activity`, { body: { scenario: 'takeover', user: 'mia@contoso.com', destination: 'loot@outside.example' } });
    expect(act.status).toBe(202);
    const plain = await exo('Get-InboxRule', { Mailbox: 'mia@contoso.com' });
    expect(plain.status).toBe(200);
    expect(plain.json.value.some((r: { ForwardTo: string[] | null }) => (r.ForwardTo ?? []).join().includes('loot@outside.example'))).toBe(false);
    const all = await exo('Get-InboxRule', { Mailbox: 'mia@contoso.com', IncludeHidden: true });
    const hidden = all.json.value.find((r: { ForwardTo: string[] | null }) => (r.ForwardTo ?? []).join().includes('loot@outside.example'));
    expect(hidden).toBeDefined();
    const snap = await state();
    const mia = snap.mailboxes.find((m: { upn: string }) => m.upn === 'mia@contoso.com');
    const rule = mia.inboxRules.find((r: { hidden: boolean; forwardTo: string[] }) => r.hidden && r.forwardTo.includes('loot@outside.example'));
    expect(BigInt(rule.ruleIdentity) > 2n ** 53n).toBe(true);
    expect(all.text).toContain(`"RuleIdentity":${rule.ruleIdentity},`);
    expect(mia.forwardingAddress).toBeTruthy();
  });

  it('remediates a takeover: remove the hidden rule, clear forwarding with nulls, disable, revoke', async () => {
    await call('POST', `/_sim/tenants/${CONTOSO}/activity`, { body: { scenario: 'takeover', user: 'raj@contoso.com', destination: 'grab@outside.example' } });
    const snap = await state();
    const raj = snap.mailboxes.find((m: { upn: string }) => m.upn === 'raj@contoso.com');
    const rule = raj.inboxRules.find((r: { hidden: boolean; forwardTo: string[] }) => r.hidden && r.forwardTo.includes('grab@outside.example'));

    // ForwardingAddress names a mail contact: Get-Recipient resolves it to the outside address.
    const rcp = await exo('Get-Recipient', { Identity: raj.forwardingAddress });
    expect(rcp.json.value[0]).toMatchObject({ RecipientTypeDetails: 'MailContact', ExternalEmailAddress: 'SMTP:grab@outside.example' });

    const rm = await exo('Remove-InboxRule', { Identity: `${raj.guid}\\${rule.ruleIdentity}`, AlwaysDeleteOutlookRulesBlob: true, Confirm: false });
    expect(rm.status).toBe(200);
    const clear = await exo('Set-Mailbox', { Identity: 'raj@contoso.com', ForwardingSmtpAddress: null, ForwardingAddress: null, DeliverToMailboxAndForward: false });
    expect(clear.status).toBe(200);
    const user = (await graph('GET', '/users/raj@contoso.com')).json;
    expect((await graph('PATCH', `/users/${user.id}`, { accountEnabled: false })).status).toBe(204);
    const revoke = await graph('POST', `/users/${user.id}/revokeSignInSessions`);
    expect(revoke.status).toBe(200);
    expect(revoke.json.value).toBe(true);

    const after = await state();
    const r2 = after.mailboxes.find((m: { upn: string }) => m.upn === 'raj@contoso.com');
    expect(r2.inboxRules.some((r: { ruleIdentity: string }) => r.ruleIdentity === rule.ruleIdentity)).toBe(false);
    expect(r2).toMatchObject({ forwardingAddress: null, forwardingSmtpAddress: null, deliverToMailboxAndForward: false });
    const u2 = after.users.find((u: { upn: string }) => u.upn === 'raj@contoso.com');
    expect(u2.accountEnabled).toBe(false);
    expect(u2.sessionsRevokedAt).toMatch(/Z$/);
  });

  it('refuses a password reset of a federated user and of an admin', async () => {
    const fed = await graph('PATCH', '/users/ben@adatum.com', { passwordProfile: { password: 'N3w-Pass!word', forceChangePasswordNextSignIn: true } }, ADATUM);
    expect(fed.status).toBe(400);
    const admin = await graph('PATCH', '/users/admin@contoso.com', { passwordProfile: { password: 'N3w-Pass!word', forceChangePasswordNextSignIn: true } });
    expect(admin.status).toBe(403);
    expect(admin.json.error.code).toBe('Authorization_RequestDenied');
  });

  it('answers an unknown mailbox with a cmdlet failure triplet', async () => {
    const r = await exo('Get-Mailbox', { Identity: 'ghost@contoso.com' });
    expect(r.status).toBe(404);
    expect(r.json.error.details[0].message.split('|')[1]).toBe('Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException');
  });

  it('lists GDAP relationships from the partner tenant: active, expired, and none for a tenant without', async () => {
    const r = await graph('GET', '/tenantRelationships/delegatedAdminRelationships', undefined, PARTNER);
    expect(r.status).toBe(200);
    const live = r.json.value.filter((x: { status: string }) => x.status !== 'terminated');
    const byCustomer = Object.fromEntries(live.map((x: { customer: { tenantId: string }; status: string }) => [x.customer.tenantId, x.status]));
    expect(byCustomer).toEqual({ [CONTOSO]: 'active', [FABRIKAM]: 'expired', [NORTHWIND]: 'active' });
    expect(byCustomer[ADATUM]).toBeUndefined();
    const active = await graph('GET', `/tenantRelationships/delegatedAdminRelationships?$filter=${encodeURIComponent("status eq 'active'")}&$top=1`, undefined, PARTNER);
    expect(active.json.value).toHaveLength(1);
    const next = await call('GET', active.json['@odata.nextLink'], { token: await token(PARTNER, 'https://graph.microsoft.com') });
    expect(next.status).toBe(200);
    expect(next.json.value.map((x: { status: string }) => x.status)).toEqual(['active']);
  });

  it('runs every scenario through the control API', async () => {
    const list = (await call('GET', '/_sim/scenarios')).json.scenarios as string[];
    expect(list).toContain('takeover');
    for (const scenario of list) {
      const r = await call('POST', `/_sim/tenants/${CONTOSO}/activity`, { body: { scenario, user: 'jane@contoso.com', ruleName: `r-${scenario}` } });
      expect(r.status, scenario).toBe(202);
    }
  });
});
