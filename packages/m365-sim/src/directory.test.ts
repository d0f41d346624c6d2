// Graph and Exchange routes of the directory module, driven with Fastify inject() and a small in-test
// SimContext (the simulator's own seam; tokens here are plain JSON claims, identity is sim-core's job).
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { beforeEach, describe, expect, it } from 'vitest';
import { directory } from './directory.ts';
import { GRAPH_LIMITS } from './graph.ts';
import { AUDIT_ENABLE_DELAY_MS, EXCHANGE_LIMITS } from './exchange.ts';
import { DEFAULT_APP_ROLES } from './state.ts';
import type { AuditRecord, ContentType, Resource, SimContext, SimTenant, TokenClaims, WorldTenant } from './types.ts';

// Response bodies are read loosely in tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const PARTNER = '9a9a9a9a-0000-4000-8000-000000000001';
const APP = '6f1e2d3c-0000-4000-8000-00000000a001';
const T1 = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const T2 = '5b3d8e21-4f6a-4c2e-8d19-7a0c3e5f1b22';
const T3 = 'd4e5f6a7-8b9c-4d0e-a1f2-3b4c5d6e7f44';
const NOW = Date.parse('2026-09-10T12:00:00Z');

function entry(id: string, name: string, domain: string, extra: Partial<WorldTenant> = {}): WorldTenant {
  return {
    id,
    name,
    domains: [domain, `${domain.split('.')[0]}.onmicrosoft.com`],
    consented: true,
    gdap: 'active',
    auditLogEnabled: true,
    users: [
      { upn: `jane@${domain}`, displayName: 'Jane Doe' },
      { upn: `raj@${domain}`, displayName: 'Raj Patel' },
      { upn: `admin@${domain}`, displayName: 'Admin', admin: true },
      { upn: `fed@${domain}`, displayName: 'Fed User', federated: true },
    ],
    recipients: [{ identity: 'Payroll Partner', address: 'payroll@partner-payroll.example', type: 'MailContact' }],
    inboxRules: [
      { user: `jane@${domain}`, name: 'Newsletters', moveToFolder: 'Newsletters', subjectContainsWords: ['newsletter'] },
      { user: `jane@${domain}`, name: 'Sneaky', hidden: true, forwardTo: ['drop@evil.example'], deleteMessage: true },
    ],
    ...extra,
  };
}

interface Harness {
  app: FastifyInstance;
  ctx: SimContext;
  tenants: Map<string, SimTenant>;
  appended: Array<{ tenantId: string; contentType: ContentType; record: AuditRecord }>;
  token(tid: string, resource: Resource, roles?: string[]): string;
}

async function harness(): Promise<Harness> {
  const entries = [
    entry(T1, 'Contoso Ltd', 'contoso.com'),
    entry(T2, 'Fabrikam Inc', 'fabrikam.com', { gdap: 'expired', hasP1: false, canResetPasswords: false }),
    entry(T3, 'Adatum Corporation', 'adatum.com', { gdap: 'none' }),
    { id: PARTNER, name: 'Partner', domains: ['msp.example'], consented: true, gdap: 'none' as const, auditLogEnabled: true, users: [] },
  ];
  const tenants = new Map<string, SimTenant>();
  for (const e of entries) tenants.set(e.id, directory.createTenant(e, 7));
  const appended: Harness['appended'] = [];
  const ctx: SimContext = {
    tenant: (k) => tenants.get(k) ?? [...tenants.values()].find((t) => t.domains.includes(k.toLowerCase())),
    partner: { tenantId: PARTNER, domain: 'msp.example' },
    app: { clientId: APP },
    audit: { append: (tenantId, contentType, records) => records.forEach((record) => appended.push({ tenantId, contentType, record })) },
    now: () => NOW,
    listTenants: () => entries.filter((e) => e.id !== PARTNER).map((e) => ({ id: e.id, name: e.name, domains: e.domains, gdap: e.gdap })),
    requireToken(req: FastifyRequest, reply: FastifyReply, resource: Resource, tenantId?: string): TokenClaims | undefined {
      const raw = String(req.headers.authorization ?? '').replace(/^Bearer test\./, '');
      let claims: TokenClaims | undefined;
      try {
        claims = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as TokenClaims;
      } catch {
        claims = undefined;
      }
      if (!claims || claims.aud !== resource || (tenantId && claims.tid !== tenantId)) {
        void reply.code(401).send({ error: { code: 'InvalidAuthenticationToken', message: 'Access token validation failure.' } });
        return undefined;
      }
      return claims;
    },
  };
  const app = Fastify();
  directory.registerGraph(app, ctx);
  directory.registerExchange(app, ctx);
  await app.ready();
  const token = (tid: string, resource: Resource, roles: string[] = [...DEFAULT_APP_ROLES]): string =>
    `Bearer test.${Buffer.from(JSON.stringify({ tid, aud: resource, roles, appid: APP, exp: NOW / 1000 + 3600 })).toString('base64url')}`;
  return { app, ctx, tenants, appended, token };
}

let h: Harness;
beforeEach(async () => {
  h = await harness();
});

const t1 = (): SimTenant => h.tenants.get(T1)!;
const jane = () => t1().users.find((u) => u.upn === 'jane@contoso.com')!;

async function graph(method: 'GET' | 'PATCH' | 'POST' | 'DELETE', url: string, o: { body?: unknown; tid?: string; roles?: string[] } = {}) {
  const res = await h.app.inject({
    method,
    url,
    headers: { authorization: h.token(o.tid ?? T1, 'graph', o.roles), ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    payload: o.body === undefined ? undefined : JSON.stringify(o.body),
  });
  return { status: res.statusCode, text: res.body, json: res.body ? (JSON.parse(res.body) as Record<string, Json>) : undefined, headers: res.headers };
}

async function exo(cmdlet: string, parameters: Record<string, unknown> = {}, o: { tid?: string; roles?: string[]; query?: string; prefer?: string; url?: string } = {}) {
  const tid = o.tid ?? T1;
  const res = await h.app.inject({
    method: 'POST',
    url: o.url ?? `/adminapi/beta/${tid}/InvokeCommand${o.query ?? ''}`,
    headers: {
      authorization: h.token(tid, 'exchange', o.roles),
      'content-type': 'application/json',
      'x-anchormailbox': `APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${tid}`,
      ...(o.prefer ? { prefer: o.prefer } : {}),
    },
    payload: JSON.stringify({ CmdletInput: { CmdletName: cmdlet, Parameters: parameters } }),
  });
  return { status: res.statusCode, text: res.body, json: res.body ? (JSON.parse(res.body) as Record<string, Json>) : undefined, headers: res.headers };
}

const opsOf = (tenantId = T1): string[] => h.appended.filter((a) => a.tenantId === tenantId).map((a) => a.record.Operation);

describe('Graph v1.0', () => {
  it('answers /organization with the tenant and its verified domains', async () => {
    const r = await graph('GET', '/v1.0/organization');
    expect(r.status).toBe(200);
    expect(r.json!.value[0].id).toBe(T1);
    expect(r.json!.value[0].verifiedDomains.map((d: { name: string }) => d.name)).toEqual(['contoso.com', 'contoso.onmicrosoft.com']);
    expect(r.json!.value[0].verifiedDomains.find((d: { isInitial: boolean }) => d.isInitial).name).toBe('contoso.onmicrosoft.com');
  });

  it('answers /domains with id, isDefault, isInitial and authenticationType', async () => {
    const r = await graph('GET', '/v1.0/domains');
    expect(r.status).toBe(200);
    const byId = Object.fromEntries(r.json!.value.map((d: { id: string }) => [d.id, d]));
    expect(byId['contoso.com'].isDefault).toBe(true);
    expect(byId['contoso.onmicrosoft.com'].isInitial).toBe(true);
    expect(byId['contoso.com'].authenticationType).toBe('Federated');
  });

  it('pages /users with $top and @odata.nextLink until the last page', async () => {
    const seen: string[] = [];
    let url: string | undefined = '/v1.0/users?$top=3&$select=id,userPrincipalName';
    let pages = 0;
    while (url) {
      const r = await graph('GET', url);
      expect(r.status).toBe(200);
      seen.push(...r.json!.value.map((u: { userPrincipalName: string }) => u.userPrincipalName));
      const next = r.json!['@odata.nextLink'] as string | undefined;
      url = next ? next.replace(/^https?:\/\/[^/]+/, '') : undefined;
      pages += 1;
    }
    expect(pages).toBe(2);
    expect(seen.sort()).toEqual(t1().users.map((u) => u.upn).sort());
  });

  it('filters /users by userPrincipalName, accountEnabled and startswith', async () => {
    const one = await graph('GET', `/v1.0/users?$filter=${encodeURIComponent("userPrincipalName eq 'JANE@contoso.com'")}`);
    expect(one.json!.value.map((u: { userPrincipalName: string }) => u.userPrincipalName)).toEqual(['jane@contoso.com']);
    jane().accountEnabled = false;
    const off = await graph('GET', `/v1.0/users?$filter=${encodeURIComponent('accountEnabled eq false')}&$select=id,accountEnabled`);
    expect(off.json!.value).toEqual([{ id: jane().id, accountEnabled: false }]);
    const sw = await graph('GET', `/v1.0/users?$filter=${encodeURIComponent("startswith(displayName,'ra')")}`);
    expect(sw.json!.value.map((u: { displayName: string }) => u.displayName)).toEqual(['Raj Patel']);
    const bad = await graph('GET', `/v1.0/users?$filter=${encodeURIComponent('jobTitle eq 1')}`);
    expect(bad.status).toBe(400);
    expect(bad.json!.error.code).toBe('Request_UnsupportedQuery');
  });

  it('leaves accountEnabled out of the default user properties and returns it with $select', async () => {
    const plain = await graph('GET', '/v1.0/users/jane@contoso.com');
    expect(plain.status).toBe(200);
    expect(plain.json!.userPrincipalName).toBe('jane@contoso.com');
    expect('accountEnabled' in plain.json!).toBe(false);
    const sel = await graph('GET', `/v1.0/users/${jane().id}?$select=id,userPrincipalName,accountEnabled,mail`);
    expect(sel.json!.accountEnabled).toBe(true);
    expect(Object.keys(sel.json!).filter((k) => !k.startsWith('@')).sort()).toEqual(['accountEnabled', 'id', 'mail', 'userPrincipalName']);
  });

  it('answers an unknown user with 404 Request_ResourceNotFound and Graph’s innerError', async () => {
    const r = await graph('GET', '/v1.0/users/nobody@contoso.com');
    expect(r.status).toBe(404);
    expect(r.json!.error.code).toBe('Request_ResourceNotFound');
    expect(r.json!.error.innerError['request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.json!.error.innerError.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  });

  it('answers odd user keys and oversized filters with Graph errors, never a crash', async () => {
    const pct = await graph('GET', '/v1.0/users/abc%25zz');
    expect(pct.status).toBe(404);
    const long = await graph('GET', `/v1.0/auditLogs/signIns?$filter=${encodeURIComponent(`userPrincipalName eq '${'a'.repeat(5000)}'`)}`);
    expect(long.status).toBe(400);
    expect(long.json!.error.code).toBe('Request_UnsupportedQuery');
    const sel = await graph('GET', '/v1.0/users/jane@contoso.com?$select=id,notAProperty');
    expect(sel.status).toBe(400);
    expect(sel.json!.error.code).toBe('Request_BadRequest');
    const top = await graph('GET', '/v1.0/users?$top=0');
    expect(top.status).toBe(400);
  });

  it('rejects a token without roles with 401 InvalidAuthenticationToken', async () => {
    const r = await graph('GET', '/v1.0/organization', { roles: [] });
    expect(r.status).toBe(401);
    expect(r.json!.error).toMatchObject({ code: 'InvalidAuthenticationToken', message: 'Either scp or roles claim need to be present in the token.' });
  });

  it('refuses a call whose app role is missing with 403 Authorization_RequestDenied', async () => {
    const r = await graph('GET', '/v1.0/users', { roles: ['Organization.Read.All'] });
    expect(r.status).toBe(403);
    expect(r.json!.error.code).toBe('Authorization_RequestDenied');
  });

  it('disables an account with PATCH accountEnabled=false and logs Update user. and Disable account.', async () => {
    const r = await graph('PATCH', `/v1.0/users/${jane().id}`, { body: { accountEnabled: false } });
    expect(r.status).toBe(204);
    expect(jane().accountEnabled).toBe(false);
    expect(opsOf()).toEqual(['Update user.', 'Disable account.']);
    const upd = h.appended[0].record;
    expect(h.appended[0].contentType).toBe('Audit.AzureActiveDirectory');
    expect(upd.RecordType).toBe(8);
    expect(upd.ObjectId).toBe('jane@contoso.com');
    expect(upd.ModifiedProperties).toContainEqual({ Name: 'AccountEnabled', NewValue: '[\r\n  false\r\n]', OldValue: '[\r\n  true\r\n]' });
    expect(upd.UserId).toBe(`ServicePrincipal_${t1().appServicePrincipalId}`);
  });

  it('changes nothing when one property of a user PATCH is invalid', async () => {
    const denied = await graph('PATCH', `/v1.0/users/${jane().id}`, { body: { accountEnabled: false, displayName: 'X' } });
    expect(denied.status).toBe(403);
    const r = await graph('PATCH', `/v1.0/users/${jane().id}`, { body: { accountEnabled: false, displayName: 42 }, roles: [...DEFAULT_APP_ROLES, 'User.ReadWrite.All'] });
    expect(r.status).toBe(400);
    expect(jane().accountEnabled).toBe(true);
    expect(h.appended).toEqual([]);
  });

  it('refuses PATCH accountEnabled without User.EnableDisableAccount.All', async () => {
    const r = await graph('PATCH', `/v1.0/users/${jane().id}`, { body: { accountEnabled: false }, roles: ['User.Read.All'] });
    expect(r.status).toBe(403);
    expect(r.json!.error.code).toBe('Authorization_RequestDenied');
    expect(jane().accountEnabled).toBe(true);
  });

  it('refuses a password reset without User-PasswordProfile.ReadWrite.All', async () => {
    const roles = DEFAULT_APP_ROLES.filter((x) => x !== 'User-PasswordProfile.ReadWrite.All');
    const r = await graph('PATCH', `/v1.0/users/${jane().id}`, { body: { passwordProfile: { password: 'N3w-Pass!word', forceChangePasswordNextSignIn: true } }, roles });
    expect(r.status).toBe(403);
    expect(r.json!.error.code).toBe('Authorization_RequestDenied');
    expect(jane().passwordChangedAt).toBeNull();
  });

  it('refuses a password reset where the app holds no Entra role that allows it', async () => {
    const r = await graph('PATCH', '/v1.0/users/jane@fabrikam.com', { tid: T2, body: { passwordProfile: { password: 'N3w-Pass!word' } } });
    expect(r.status).toBe(403);
    expect(r.json!.error.code).toBe('Authorization_RequestDenied');
  });

  it('refuses a password reset of an admin and of a federated user', async () => {
    const admin = await graph('PATCH', '/v1.0/users/admin@contoso.com', { body: { passwordProfile: { password: 'N3w-Pass!word' } } });
    expect(admin.status).toBe(403);
    const fed = await graph('PATCH', '/v1.0/users/fed@contoso.com', { body: { passwordProfile: { password: 'N3w-Pass!word' } } });
    expect(fed.status).toBe(400);
    expect(fed.json!.error.code).toBe('Request_BadRequest');
  });

  it('refuses a password that breaks the complexity policy', async () => {
    const r = await graph('PATCH', `/v1.0/users/${jane().id}`, { body: { passwordProfile: { password: 'short' } } });
    expect(r.status).toBe(400);
    expect(r.json!.error.message).toContain('complexity');
  });

  it('resets a password with 204, records Reset user password. and never logs the password', async () => {
    const r = await graph('PATCH', `/v1.0/users/${jane().id}`, { body: { passwordProfile: { password: 'N3w-Pass!word', forceChangePasswordNextSignIn: true } } });
    expect(r.status).toBe(204);
    expect(jane().passwordChangedAt).toBe(new Date(NOW).toISOString());
    expect(jane().forceChangePasswordNextSignIn).toBe(true);
    expect(opsOf()).toEqual(['Reset user password.', 'Set force change user password.']);
    expect(JSON.stringify(h.appended)).not.toContain('N3w-Pass!word');
  });

  it('revokes sessions with 200 and {"value":true}, logging StsRefreshTokensValidFrom', async () => {
    const r = await graph('POST', `/v1.0/users/${jane().id}/revokeSignInSessions`);
    expect(r.status).toBe(200);
    expect(r.json!.value).toBe(true);
    expect(r.json!['@odata.context']).toMatch(/#Edm\.Boolean$/);
    expect(jane().sessionsRevokedAt).toBe(new Date(NOW).toISOString());
    const rec = h.appended[0].record;
    expect(rec.Operation).toBe('Update user.');
    expect(JSON.stringify(rec.ModifiedProperties)).toContain('StsRefreshTokensValidFrom');
  });

  it('lists inbox messageRules without the hidden ones, in messageRule shape', async () => {
    const r = await graph('GET', '/v1.0/users/jane@contoso.com/mailFolders/inbox/messageRules');
    expect(r.status).toBe(200);
    const names = r.json!.value.map((x: { displayName: string }) => x.displayName);
    expect(names).toContain('Newsletters');
    expect(names).not.toContain('Sneaky');
    expect(names).not.toContain('Junk E-mail Rule');
    const rule = r.json!.value.find((x: { displayName: string }) => x.displayName === 'Newsletters');
    expect(rule).toMatchObject({ isEnabled: true, hasError: false, isReadOnly: false, conditions: { subjectContains: ['newsletter'] } });
    expect(typeof rule.actions.moveToFolder).toBe('string');
    expect(rule.id).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('disables a rule with PATCH isEnabled=false and logs Disable-InboxRule with the app as actor', async () => {
    const rule = t1().mailboxes.get('jane@contoso.com')!.rules.find((x) => x.name === 'Newsletters')!;
    const r = await graph('PATCH', `/v1.0/users/jane@contoso.com/mailFolders/inbox/messageRules/${encodeURIComponent(rule.graphId)}`, { body: { isEnabled: false } });
    expect(r.status).toBe(200);
    expect(r.json!.isEnabled).toBe(false);
    expect(rule.enabled).toBe(false);
    const rec = h.appended[0];
    expect(rec.contentType).toBe('Audit.Exchange');
    expect(rec.record).toMatchObject({ Operation: 'Disable-InboxRule', RecordType: 1, ResultStatus: 'True', AppId: APP });
    expect(String(rec.record.ObjectId)).toMatch(/\/Microsoft Exchange Hosted Organizations\/contoso\.onmicrosoft\.com\/Jane Doe\\Newsletters$/);
  });

  it('deletes a rule with 204 and answers 404 for a hidden rule’s id', async () => {
    const mb = t1().mailboxes.get('jane@contoso.com')!;
    const hidden = mb.rules.find((x) => x.name === 'Sneaky')!;
    const miss = await graph('DELETE', `/v1.0/users/jane@contoso.com/mailFolders/inbox/messageRules/${encodeURIComponent(hidden.graphId)}`);
    expect(miss.status).toBe(404);
    expect(miss.json!.error.code).toBe('ErrorItemNotFound');
    const rule = mb.rules.find((x) => x.name === 'Newsletters')!;
    const r = await graph('DELETE', `/v1.0/users/jane@contoso.com/mailFolders/inbox/messageRules/${encodeURIComponent(rule.graphId)}`);
    expect(r.status).toBe(204);
    expect(mb.rules.some((x) => x.name === 'Newsletters')).toBe(false);
    expect(opsOf()).toEqual(['Remove-InboxRule']);
  });

  it('throttles Outlook resources per mailbox with 429 ApplicationThrottled and Retry-After', async () => {
    const saved = { ...GRAPH_LIMITS };
    GRAPH_LIMITS.mailboxRequests = 2;
    try {
      for (let i = 0; i < 2; i++) expect((await graph('GET', '/v1.0/users/jane@contoso.com/mailFolders/inbox/messageRules')).status).toBe(200);
      const r = await graph('GET', '/v1.0/users/jane@contoso.com/mailboxSettings');
      expect(r.status).toBe(429);
      expect(r.json!.error.code).toBe('ApplicationThrottled');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      expect((await graph('GET', '/v1.0/users/raj@contoso.com/mailboxSettings')).status).toBe(200);
    } finally {
      Object.assign(GRAPH_LIMITS, saved);
    }
  });

  it('answers mailboxSettings without any forwarding property', async () => {
    const r = await graph('GET', '/v1.0/users/jane@contoso.com/mailboxSettings');
    expect(r.status).toBe(200);
    expect(r.json!.timeZone).toBeDefined();
    expect(JSON.stringify(r.json).toLowerCase()).not.toContain('forward');
  });

  it('answers auditLogs/signIns with 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant without P1', async () => {
    const r = await graph('GET', '/v1.0/auditLogs/signIns', { tid: T2 });
    expect(r.status).toBe(403);
    expect(r.json!.error.code).toBe('Authentication_RequestFromNonPremiumTenantOrB2CTenant');
  });

  it('filters auditLogs/signIns by createdDateTime and userPrincipalName, newest first', async () => {
    directory.runScenario(h.ctx, t1(), { scenario: 'benign', at: '2026-09-10T08:00:00Z' });
    directory.runScenario(h.ctx, t1(), { scenario: 'phishing-signin', user: 'jane@contoso.com', at: '2026-09-10T10:00:00Z' });
    const q = encodeURIComponent("createdDateTime ge 2026-09-10T09:00:00Z and userPrincipalName eq 'jane@contoso.com'");
    const r = await graph('GET', `/v1.0/auditLogs/signIns?$filter=${q}`);
    expect(r.status).toBe(200);
    expect(r.json!.value.length).toBe(2);
    expect(r.json!.value.every((s: { userPrincipalName: string }) => s.userPrincipalName === 'jane@contoso.com')).toBe(true);
    expect(Date.parse(r.json!.value[0].createdDateTime)).toBeGreaterThan(Date.parse(r.json!.value[1].createdDateTime));
    const bad = await graph('GET', `/v1.0/auditLogs/signIns?$filter=${encodeURIComponent('foo eq 1')}`);
    expect(bad.status).toBe(400);
  });

  it('lists GDAP relationships in the partner tenant: active and expired ones, none for a tenant without', async () => {
    const r = await graph('GET', '/v1.0/tenantRelationships/delegatedAdminRelationships', { tid: PARTNER });
    expect(r.status).toBe(200);
    const live = r.json!.value.filter((x: { status: string }) => x.status !== 'terminated');
    const byCustomer = Object.fromEntries(live.map((x: { customer: { tenantId: string }; status: string }) => [x.customer.tenantId, x.status]));
    expect(byCustomer).toEqual({ [T1]: 'active', [T2]: 'expired' });
    const ended = r.json!.value.filter((x: { status: string }) => x.status === 'terminated');
    expect(ended.map((x: { customer: { tenantId: string } }) => x.customer.tenantId)).toEqual([T1]);
    expect(Date.parse(ended[0].endDateTime)).toBeLessThan(Date.parse(r.json!.value[0].activatedDateTime));
    const rel = r.json!.value[0];
    expect(rel).toMatchObject({ duration: 'P730D', customer: { displayName: 'Contoso Ltd' } });
    expect(rel.accessDetails.unifiedRoles.length).toBeGreaterThan(0);
    const active = await graph('GET', `/v1.0/tenantRelationships/delegatedAdminRelationships?$filter=${encodeURIComponent("status eq 'active'")}`, { tid: PARTNER });
    expect(active.json!.value.map((x: { status: string }) => x.status)).toEqual(['active']);
    const paged = await graph('GET', '/v1.0/tenantRelationships/delegatedAdminRelationships?$top=1', { tid: PARTNER });
    expect(paged.json!.value.length).toBe(1);
    expect(paged.json!['@odata.nextLink']).toContain('$skiptoken');
  });

  it('marks some GDAP relationships as reseller relationships', async () => {
    const extra: WorldTenant[] = [0, 1, 2].map((i) => entry(`00000000-0000-4000-8000-00000000000${i}`, `T${i}`, `t${i}.example`));
    const base = h.ctx.listTenants!;
    h.ctx.listTenants = () => [...base(), ...extra.map((e) => ({ id: e.id, name: e.name, domains: e.domains, gdap: e.gdap }))];
    const r = await graph('GET', '/v1.0/tenantRelationships/delegatedAdminRelationships', { tid: PARTNER });
    const reseller = r.json!.value.filter((x: Record<string, unknown>) => x['@odata.type'] === '#microsoft.graph.resellerDelegatedAdminRelationship');
    expect(reseller.length).toBeGreaterThan(0);
    expect(reseller[0].indirectProviderTenantId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('lists legacy contracts in the partner tenant and nothing in a customer tenant', async () => {
    const r = await graph('GET', '/v1.0/contracts', { tid: PARTNER });
    expect(r.status).toBe(200);
    expect(r.json!.value.map((c: { customerId: string }) => c.customerId)).toEqual([T1, T2, T3]);
    expect(r.json!.value[0]).toMatchObject({ contractType: 'ResellerPartner', defaultDomainName: 'contoso.com' });
    const own = await graph('GET', '/v1.0/contracts');
    expect(own.json!.value).toEqual([]);
  });
});

describe('Exchange admin API (InvokeCommand)', () => {
  it('answers Get-InboxRule without hidden rules unless IncludeHidden is set', async () => {
    const plain = await exo('Get-InboxRule', { Mailbox: 'jane@contoso.com' });
    expect(plain.status).toBe(200);
    expect(plain.json!['@odata.context']).toContain('$metadata#Collection(Exchange.GenericHashTable)');
    expect(plain.json!['@adminapi.warnings']).toEqual([]);
    expect(plain.json!.value.map((r: { Name: string }) => r.Name)).toEqual(['Newsletters']);
    const all = await exo('Get-InboxRule', { Mailbox: 'jane@contoso.com', IncludeHidden: true });
    expect(all.json!.value.map((r: { Name: string }) => r.Name).sort()).toEqual(['Junk E-mail Rule', 'Newsletters', 'Sneaky']);
  });

  it('writes RuleIdentity as a bare JSON number above 2^53 with every digit exact', async () => {
    const r = await exo('Get-InboxRule', { Mailbox: 'jane@contoso.com', IncludeHidden: true });
    const mb = t1().mailboxes.get('jane@contoso.com')!;
    for (const rule of mb.rules) {
      expect(BigInt(rule.ruleIdentity) > 2n ** 53n).toBe(true);
      expect(r.text).toContain(`"RuleIdentity":${rule.ruleIdentity},`);
      expect(r.text).toContain(`"Identity":${JSON.stringify(`${mb.guid}\\${rule.ruleIdentity}`)}`);
    }
  });

  it('shows forward targets and MoveToFolder in Exchange’s string forms', async () => {
    const r = await exo('Get-InboxRule', { Mailbox: 'jane@contoso.com', IncludeHidden: true });
    const sneaky = r.json!.value.find((x: { Name: string }) => x.Name === 'Sneaky');
    expect(sneaky.ForwardTo).toEqual(['"drop@evil.example" [SMTP:drop@evil.example]']);
    expect(sneaky.DeleteMessage).toBe(true);
    const news = r.json!.value.find((x: { Name: string }) => x.Name === 'Newsletters');
    expect(news.MoveToFolder).toBe('jane@contoso.com:\\Newsletters');
  });

  it('removes a hidden rule by {mailboxGuid}\\{RuleIdentity} and logs Remove-InboxRule as the app', async () => {
    const mb = t1().mailboxes.get('jane@contoso.com')!;
    const rule = mb.rules.find((x) => x.name === 'Sneaky')!;
    const r = await exo('Remove-InboxRule', { Identity: `${mb.guid}\\${rule.ruleIdentity}`, AlwaysDeleteOutlookRulesBlob: true, Confirm: false });
    expect(r.status).toBe(200);
    expect(r.json!.value).toEqual([]);
    expect(mb.rules.includes(rule)).toBe(false);
    const rec = h.appended[0].record;
    expect(rec).toMatchObject({ Operation: 'Remove-InboxRule', RecordType: 1, ResultStatus: 'True', Workload: 'Exchange', AppId: APP, UserId: `ServicePrincipal_${t1().appServicePrincipalId}` });
    expect(rec.Parameters).toContainEqual({ Name: 'Identity', Value: `${mb.guid}\\${rule.ruleIdentity}` });
    expect(rec.Parameters).toContainEqual({ Name: 'AlwaysDeleteOutlookRulesBlob', Value: 'True' });
    expect(rec.CreationTime).toBe('2026-09-10T12:00:00');
  });

  it('disables and removes a rule by Mailbox plus name', async () => {
    const d = await exo('Disable-InboxRule', { Mailbox: 'jane@contoso.com', Identity: 'Newsletters' });
    expect(d.status).toBe(200);
    expect(t1().mailboxes.get('jane@contoso.com')!.rules.find((x) => x.name === 'Newsletters')!.enabled).toBe(false);
    const e = await exo('Enable-InboxRule', { Mailbox: 'jane@contoso.com', Identity: 'Newsletters' });
    expect(e.status).toBe(200);
    const rm = await exo('Remove-InboxRule', { Mailbox: 'jane@contoso.com', Identity: 'Newsletters' });
    expect(rm.status).toBe(200);
    expect(opsOf()).toEqual(['Disable-InboxRule', 'Enable-InboxRule', 'Remove-InboxRule']);
  });

  it('fails for an unknown mailbox with a ManagementObjectNotFoundException triplet', async () => {
    const r = await exo('Get-InboxRule', { Mailbox: 'ghost@contoso.com' });
    expect(r.status).toBe(404);
    expect(r.json!.error.message).toBe('Error executing cmdlet');
    const parts = String(r.json!.error.details[0].message).split('|');
    expect(parts).toHaveLength(3);
    expect(parts[0]).toMatch(/^Ex[0-9A-F]{6}$/);
    expect(parts[1]).toBe('Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException');
    expect(parts[2]).toContain("object 'ghost@contoso.com' couldn't be found");
  });

  it('fails for an unknown rule identity with ManagementObjectNotFoundException', async () => {
    const mb = t1().mailboxes.get('jane@contoso.com')!;
    const r = await exo('Remove-InboxRule', { Identity: `${mb.guid}\\18446744073709551615` });
    expect(r.status).toBe(404);
    expect(r.json!.error.details[0].message).toContain('ManagementObjectNotFoundException');
  });

  it('rejects an unknown parameter and an unknown cmdlet like PowerShell does', async () => {
    const p = await exo('Get-Mailbox', { Identity: 'jane@contoso.com', Bogus: 1 });
    expect(p.status).toBe(400);
    expect(p.json!.error.details[0].message).toContain("parameter name 'Bogus'");
    const c = await exo('Get-Nothing', {});
    expect(c.status).toBe(400);
    expect(c.json!.error.details[0].message).toContain('CommandNotFoundException');
  });

  it('sets mailbox forwarding and clears it with explicit nulls', async () => {
    const set = await exo('Set-Mailbox', { Identity: 'jane@contoso.com', ForwardingSmtpAddress: 'smtp:drop@evil.example', DeliverToMailboxAndForward: true });
    expect(set.status).toBe(200);
    const mb = t1().mailboxes.get('jane@contoso.com')!;
    expect(mb.forwardingSmtpAddress).toBe('drop@evil.example');
    const got = await exo('Get-Mailbox', { Identity: 'jane@contoso.com' });
    expect(got.json!.value[0]).toMatchObject({ ForwardingSmtpAddress: 'smtp:drop@evil.example', DeliverToMailboxAndForward: true, ExternalDirectoryObjectId: jane().id });
    const clear = await exo('Set-Mailbox', { Identity: 'jane@contoso.com', ForwardingSmtpAddress: null, ForwardingAddress: null, DeliverToMailboxAndForward: false });
    expect(clear.status).toBe(200);
    expect(mb).toMatchObject({ forwardingSmtpAddress: null, forwardingAddress: null, deliverToMailboxAndForward: false });
    const rec = h.appended.find((a) => a.record.Operation === 'Set-Mailbox')!.record;
    expect(rec.Parameters).toContainEqual({ Name: 'ForwardingSmtpAddress', Value: 'smtp:drop@evil.example' });
  });

  it('refuses an invalid or oversized ForwardingSmtpAddress with a DataValidationException', async () => {
    for (const v of ['not-an-address', `a@${'a.'.repeat(50_000)} `]) {
      const r = await exo('Set-Mailbox', { Identity: 'jane@contoso.com', ForwardingSmtpAddress: v });
      expect(r.status).toBe(400);
      expect(r.json!.error.details[0].message).toContain('DataValidationException');
    }
    expect(t1().mailboxes.get('jane@contoso.com')!.forwardingSmtpAddress).toBeNull();
  });

  it('changes nothing for a forwarding key that is absent', async () => {
    const mb = t1().mailboxes.get('jane@contoso.com')!;
    await exo('Set-Mailbox', { Identity: 'jane@contoso.com', ForwardingSmtpAddress: 'drop@evil.example', ForwardingAddress: 'Payroll Partner' });
    const r = await exo('Set-Mailbox', { Identity: 'jane@contoso.com', DeliverToMailboxAndForward: true });
    expect(r.status).toBe(200);
    expect(mb).toMatchObject({ forwardingSmtpAddress: 'drop@evil.example', forwardingAddress: 'Payroll Partner', deliverToMailboxAndForward: true });
  });

  it('resolves ForwardingAddress through Get-Recipient and Get-MailContact to the outside address', async () => {
    await exo('Set-Mailbox', { Identity: 'jane@contoso.com', ForwardingAddress: 'payroll@partner-payroll.example' });
    const mbx = await exo('Get-Mailbox', { Identity: 'jane@contoso.com' });
    expect(mbx.json!.value[0].ForwardingAddress).toBe('Payroll Partner');
    const rcp = await exo('Get-Recipient', { Identity: 'Payroll Partner' });
    expect(rcp.json!.value[0]).toMatchObject({ RecipientTypeDetails: 'MailContact', ExternalEmailAddress: 'SMTP:payroll@partner-payroll.example' });
    const mc = await exo('Get-MailContact', { Identity: 'Payroll Partner' });
    expect(mc.json!.value[0].ExternalEmailAddress).toBe('SMTP:payroll@partner-payroll.example');
    const mbxAsRecipient = await exo('Get-Recipient', { Identity: 'jane@contoso.com' });
    expect(mbxAsRecipient.json!.value[0].RecipientTypeDetails).toBe('UserMailbox');
    const missing = await exo('Set-Mailbox', { Identity: 'jane@contoso.com', ForwardingAddress: 'Nobody Here' });
    expect(missing.status).toBe(404);
  });

  it('leaves the mailbox untouched when one value of Set-Mailbox is bad', async () => {
    const mb = t1().mailboxes.get('jane@contoso.com')!;
    const r = await exo('Set-Mailbox', { Identity: 'jane@contoso.com', ForwardingSmtpAddress: 'drop@evil.example', ForwardingAddress: 'Nobody Here' });
    expect(r.status).toBe(404);
    expect(mb.forwardingSmtpAddress).toBeNull();
    const bad = await exo('Set-InboxRule', { Mailbox: 'jane@contoso.com', Identity: 'Newsletters', ForwardTo: ['x@evil.example'], Priority: -4 });
    expect(bad.status).toBe(400);
    expect(mb.rules.find((x) => x.name === 'Newsletters')!.forwardTo).toEqual([]);
    expect(h.appended).toEqual([]);
  });

  it('trims output with $select and pages with Prefer: odata.maxpagesize', async () => {
    const first = await exo('Get-Mailbox', {}, { query: '?$select=UserPrincipalName,ForwardingSmtpAddress', prefer: 'odata.maxpagesize=2' });
    expect(first.status).toBe(200);
    expect(first.json!.value).toHaveLength(2);
    expect(Object.keys(first.json!.value[0]).sort()).toEqual(['ForwardingSmtpAddress', 'UserPrincipalName']);
    const next = String(first.json!['@odata.nextLink']);
    expect(next).toContain('/InvokeCommand?');
    const second = await exo('Get-Mailbox', {}, { url: next.replace(/^https?:\/\/[^/]+/, ''), prefer: 'odata.maxpagesize=2' });
    expect(second.json!.value).toHaveLength(2);
    expect(second.json!['@odata.nextLink']).toBeUndefined();
    const all = [...first.json!.value, ...second.json!.value].map((m: { UserPrincipalName: string }) => m.UserPrincipalName).sort();
    expect(all).toEqual(t1().users.map((u) => u.upn).sort());
  });

  it('turns OWA off with Set-CASMailbox and shows it in Get-CASMailbox', async () => {
    const r = await exo('Set-CASMailbox', { Identity: 'jane@contoso.com', OWAEnabled: false });
    expect(r.status).toBe(200);
    const g = await exo('Get-CASMailbox', { Identity: 'jane@contoso.com' });
    expect(g.json!.value[0].OWAEnabled).toBe(false);
    expect(opsOf()).toEqual(['Set-CASMailbox']);
  });

  it('switches unified audit ingestion on with a delay before it becomes effective', async () => {
    const t = h.tenants.get(T1)!;
    t.auditLogEnabled = false;
    const off = await exo('Get-AdminAuditLogConfig');
    expect(off.json!.value[0].UnifiedAuditLogIngestionEnabled).toBe(false);
    const r = await exo('Set-AdminAuditLogConfig', { UnifiedAuditLogIngestionEnabled: true });
    expect(r.status).toBe(200);
    expect(t.auditLogEnabled).toBe(true);
    expect(t.auditLogEffectiveAt).toBe(NOW + AUDIT_ENABLE_DELAY_MS);
    const on = await exo('Get-AdminAuditLogConfig');
    expect(on.json!.value[0].UnifiedAuditLogIngestionEnabled).toBe(true);
  });

  it('lists accepted domains with DomainType and MatchSubDomains', async () => {
    const r = await exo('Get-AcceptedDomain');
    expect(r.status).toBe(200);
    const d = r.json!.value.find((x: { DomainName: string }) => x.DomainName === 'contoso.com');
    expect(d).toMatchObject({ DomainType: 'Authoritative', Default: true, MatchSubDomains: false });
  });

  it('lists, disables and removes transport rules', async () => {
    await exo('New-TransportRule', { Name: 'Copy out', BlindCopyTo: 'bcc@evil.example' });
    const r = await exo('Get-TransportRule');
    const rule = r.json!.value.find((x: { Name: string }) => x.Name === 'Copy out');
    expect(rule).toMatchObject({ State: 'Enabled', Mode: 'Enforce', BlindCopyTo: ['bcc@evil.example'] });
    await exo('Disable-TransportRule', { Identity: 'Copy out' });
    expect(t1().transportRules.find((x) => x.name === 'Copy out')!.state).toBe('Disabled');
    await exo('Remove-TransportRule', { Identity: 'Copy out' });
    expect(t1().transportRules.some((x) => x.name === 'Copy out')).toBe(false);
    expect(opsOf()).toEqual(['New-TransportRule', 'Disable-TransportRule', 'Remove-TransportRule']);
  });

  it('creates and changes inbox rules with New-InboxRule and Set-InboxRule', async () => {
    const r = await exo('New-InboxRule', { Mailbox: 'raj@contoso.com', Name: 'fwd', ForwardTo: ['x@evil.example'], MarkAsRead: true });
    expect(r.status).toBe(200);
    expect(r.json!.value[0]).toMatchObject({ Name: 'fwd', MarkAsRead: true, ForwardTo: ['"x@evil.example" [SMTP:x@evil.example]'] });
    const s = await exo('Set-InboxRule', { Mailbox: 'raj@contoso.com', Identity: 'fwd', ForwardTo: null, DeleteMessage: true });
    expect(s.status).toBe(200);
    const rule = t1().mailboxes.get('raj@contoso.com')!.rules.find((x) => x.name === 'fwd')!;
    expect(rule).toMatchObject({ forwardTo: [], deleteMessage: true, markAsRead: true });
    expect(opsOf()).toEqual(['New-InboxRule', 'Set-InboxRule']);
  });

  it('refuses a token without Exchange.ManageAsApp with 401', async () => {
    const r = await exo('Get-Mailbox', {}, { roles: ['User.Read.All'] });
    expect(r.status).toBe(401);
    expect(r.json!.error.message).toContain("isn't supported in this scenario");
  });

  it('throttles a tenant past its request budget with 429 and Retry-After', async () => {
    const saved = { ...EXCHANGE_LIMITS };
    EXCHANGE_LIMITS.requests = 3;
    try {
      for (let i = 0; i < 3; i++) {
        const ok = await exo('Get-AcceptedDomain');
        expect(ok.status).toBe(200);
        expect(ok.headers['rate-limit-remaining']).toBe(String(2 - i));
      }
      const r = await exo('Get-AcceptedDomain');
      expect(r.status).toBe(429);
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      const other = await exo('Get-AcceptedDomain', {}, { tid: T2 });
      expect(other.status).toBe(200);
    } finally {
      Object.assign(EXCHANGE_LIMITS, saved);
    }
  });

  it('fails Get-InboxRule without a mailbox with a parameter binding error', async () => {
    const r = await exo('Get-InboxRule', {});
    expect(r.status).toBe(400);
    expect(r.json!.error.details[0].message).toContain("parameter 'Mailbox'");
  });

  it('answers a body without CmdletInput with 400', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: `/adminapi/beta/${T1}/InvokeCommand`,
      headers: { authorization: h.token(T1, 'exchange'), 'content-type': 'application/json' },
      payload: JSON.stringify({ nope: 1 }),
    });
    expect(res.statusCode).toBe(400);
  });
});

describe('snapshot', () => {
  it('shows users, rules including hidden ones, forwarding and audit configuration', () => {
    const s = directory.snapshot(t1()) as Record<string, Json>;
    expect(s.users.find((u: { upn: string }) => u.upn === 'jane@contoso.com')).toMatchObject({ accountEnabled: true, sessionsRevokedAt: null, passwordChangedAt: null });
    const jm = s.mailboxes.find((m: { upn: string }) => m.upn === 'jane@contoso.com');
    expect(jm.inboxRules.find((r: { name: string }) => r.name === 'Sneaky')).toMatchObject({ hidden: true, enabled: true, forwardTo: ['drop@evil.example'] });
    expect(jm).toMatchObject({ forwardingSmtpAddress: null, forwardingAddress: null, owaEnabled: true });
    expect(s.auditConfig.unifiedAuditLogIngestionEnabled).toBe(true);
    expect(Array.isArray(s.transportRules)).toBe(true);
    expect(s.roles).toContain('Exchange.ManageAsApp');
  });
});

describe('Graph JSON batching', () => {
  it('runs $batch requests in order and returns each status and body', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1.0/$batch',
      headers: { authorization: h.token(T1, 'graph'), 'content-type': 'application/json' },
      payload: JSON.stringify({
        requests: [
          { id: '1', method: 'GET', url: '/users/jane@contoso.com?$select=id,accountEnabled' },
          { id: '2', method: 'PATCH', url: `/users/${jane().id}`, body: { accountEnabled: false } },
          { id: '3', method: 'GET', url: '/users/nobody@contoso.com' },
        ],
      }),
    });
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body) as { responses: Array<{ id: string; status: number; body?: Json }> };
    expect(body.responses.map((r) => [r.id, r.status])).toEqual([
      ['1', 200],
      ['2', 204],
      ['3', 404],
    ]);
    expect(body.responses[0].body.accountEnabled).toBe(true);
    expect(body.responses[2].body.error.code).toBe('Request_ResourceNotFound');
    expect(jane().accountEnabled).toBe(false);
  });

  it('refuses a batch of more than 20 requests', async () => {
    const requests = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: '/organization' }));
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1.0/$batch',
      headers: { authorization: h.token(T1, 'graph'), 'content-type': 'application/json' },
      payload: JSON.stringify({ requests }),
    });
    expect(res.statusCode).toBe(400);
  });
});

describe('GDAP without the core’s tenant list', () => {
  it('lists the tenants this context owns from the ones built', async () => {
    delete h.ctx.listTenants;
    const r = await graph('GET', `/v1.0/tenantRelationships/delegatedAdminRelationships?$filter=${encodeURIComponent("status eq 'active'")}`, { tid: PARTNER });
    const r2 = await graph('GET', `/v1.0/tenantRelationships/delegatedAdminRelationships?$filter=${encodeURIComponent("status eq 'expired'")}`, { tid: PARTNER });
    r.json!.value.push(...r2.json!.value);
    const byCustomer = Object.fromEntries(r.json!.value.map((x: { customer: { tenantId: string }; status: string }) => [x.customer.tenantId, x.status]));
    expect(byCustomer).toEqual({ [T1]: 'active', [T2]: 'expired' });
  });
});

describe('Graph messageRule creation and change', () => {
  it('creates a rule with POST, answers 201, and logs New-InboxRule in its Graph form', async () => {
    const r = await graph('POST', '/v1.0/users/raj@contoso.com/mailFolders/inbox/messageRules', {
      body: {
        displayName: 'From partner',
        sequence: 2,
        isEnabled: true,
        conditions: { senderContains: ['partner'] },
        actions: { forwardTo: [{ emailAddress: { name: 'Out', address: 'Out@Evil.example' } }], moveToFolder: 'archive', stopProcessingRules: true },
      },
    });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ displayName: 'From partner', sequence: 2, isEnabled: true, conditions: { senderContains: ['partner'] } });
    expect(r.json!.actions.forwardTo[0].emailAddress.address).toBe('out@evil.example');
    const rule = t1().mailboxes.get('raj@contoso.com')!.rules.find((x) => x.name === 'From partner')!;
    expect(rule).toMatchObject({ moveToFolder: 'Archive', forwardTo: ['out@evil.example'], conditions: { FromAddressContainsWords: ['partner'] } });
    expect(BigInt(rule.ruleIdentity) > 2n ** 53n).toBe(true);
    const rec = h.appended[0].record;
    expect(rec).toMatchObject({ Operation: 'New-InboxRule', AppId: APP, RecordType: 1 });
    const params = rec.Parameters as Array<{ Name: string; Value: string }>;
    expect(params[0]).toEqual({ Name: 'Name', Value: 'From partner' });
    expect(params.map((p) => p.Name)).not.toContain('AlwaysDeleteOutlookRulesBlob');
    expect(params).toContainEqual({ Name: 'ForwardTo', Value: 'out@evil.example' });
  });

  it('refuses a rule without displayName or with a bad recipient, changing nothing', async () => {
    const before = t1().mailboxes.get('raj@contoso.com')!.rules.length;
    const a = await graph('POST', '/v1.0/users/raj@contoso.com/mailFolders/inbox/messageRules', { body: { actions: { delete: true } } });
    expect(a.status).toBe(400);
    const b = await graph('POST', '/v1.0/users/raj@contoso.com/mailFolders/inbox/messageRules', { body: { displayName: 'x', actions: { forwardTo: [{ emailAddress: { address: 'nope' } }] } } });
    expect(b.status).toBe(400);
    expect(t1().mailboxes.get('raj@contoso.com')!.rules.length).toBe(before);
    expect(h.appended).toEqual([]);
  });

  it('changes a rule’s actions with PATCH and logs Set-InboxRule; a bad body changes nothing', async () => {
    const rule = t1().mailboxes.get('jane@contoso.com')!.rules.find((x) => x.name === 'Newsletters')!;
    const url = `/v1.0/users/jane@contoso.com/mailFolders/inbox/messageRules/${encodeURIComponent(rule.graphId)}`;
    const bad = await graph('PATCH', url, { body: { isEnabled: false, actions: { moveToFolder: 'no-such-folder' } } });
    expect(bad.status).toBe(400);
    expect(rule.enabled).toBe(true);
    const ok = await graph('PATCH', url, { body: { actions: { delete: true, moveToFolder: null } } });
    expect(ok.status).toBe(200);
    expect(rule).toMatchObject({ deleteMessage: true, moveToFolder: null });
    expect(opsOf()).toEqual(['Set-InboxRule']);
  });
});
