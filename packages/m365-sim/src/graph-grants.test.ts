// Graph oauth2PermissionGrants (list with $filter, get, delete) driven with Fastify inject() and a small
// in-test SimContext, after the illicit-consent scenario put a user's grant in the tenant.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { beforeEach, describe, expect, it } from 'vitest';
import { directory } from './directory.ts';
import { DEFAULT_APP_ROLES, graphServicePrincipalId } from './state.ts';
import type { AuditRecord, ContentType, Resource, SimContext, SimTenant, TokenClaims, WorldTenant } from './types.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const PARTNER = '9a9a9a9a-0000-4000-8000-000000000001';
const APP = '6f1e2d3c-0000-4000-8000-00000000a001';
const T1 = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const NOW = Date.parse('2026-09-10T12:00:00Z');

const entry: WorldTenant = {
  id: T1,
  name: 'Contoso Ltd',
  domains: ['contoso.com', 'contoso.onmicrosoft.com'],
  consented: true,
  gdap: 'active',
  auditLogEnabled: true,
  users: [
    { upn: 'jane@contoso.com', displayName: 'Jane Doe' },
    { upn: 'raj@contoso.com', displayName: 'Raj Patel' },
  ],
};

let app: FastifyInstance;
let tenant: SimTenant;
let appended: Array<{ tenantId: string; contentType: ContentType; record: AuditRecord }>;
let ctx: SimContext;

beforeEach(async () => {
  tenant = directory.createTenant(entry, 7);
  appended = [];
  ctx = {
    tenant: (k) => (k === T1 || tenant.domains.includes(k.toLowerCase()) ? tenant : undefined),
    partner: { tenantId: PARTNER, domain: 'msp.example' },
    app: { clientId: APP },
    audit: { append: (tenantId, contentType, records) => records.forEach((record) => appended.push({ tenantId, contentType, record })) },
    now: () => NOW,
    requireToken(req: FastifyRequest, reply: FastifyReply, resource: Resource): TokenClaims | undefined {
      const raw = String(req.headers.authorization ?? '').replace(/^Bearer test\./, '');
      const claims = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as TokenClaims;
      if (claims.aud !== resource) {
        void reply.code(401).send({ error: { code: 'InvalidAuthenticationToken', message: 'Access token validation failure.' } });
        return undefined;
      }
      return claims;
    },
  };
  app = Fastify();
  directory.registerGraph(app, ctx);
  await app.ready();
});

async function graph(method: 'GET' | 'DELETE', url: string, roles: string[] = [...DEFAULT_APP_ROLES]) {
  const token = Buffer.from(JSON.stringify({ tid: T1, aud: 'graph', roles, appid: APP, exp: NOW / 1000 + 3600 })).toString('base64url');
  const res = await app.inject({ method, url, headers: { authorization: `Bearer test.${token}` } });
  return { status: res.statusCode, json: res.body ? (JSON.parse(res.body) as Json) : undefined };
}

function consent(user: string, extra: Record<string, unknown> = {}): { appId: string; servicePrincipalId: string; grantId: string; scope: string; resourceId: string } {
  const r = directory.runScenario(ctx, tenant, { scenario: 'illicit-consent', user, ...extra });
  if (!r.ok) throw new Error(r.error);
  return (r.detail as { consent: { appId: string; servicePrincipalId: string; grantId: string; scope: string; resourceId: string } }).consent;
}

const q = (s: string) => encodeURIComponent(s);

describe('Graph oauth2PermissionGrants', () => {
  it('lists the illicit-consent grant in the documented shape, its clientId the service principal the consent record names', async () => {
    const c = consent('jane@contoso.com');
    const jane = tenant.users.find((u) => u.upn === 'jane@contoso.com')!;
    const r = await graph('GET', '/v1.0/oauth2PermissionGrants');
    expect(r.status).toBe(200);
    expect(r.json.value).toEqual([
      { clientId: c.servicePrincipalId, consentType: 'Principal', id: c.grantId, principalId: jane.id, resourceId: graphServicePrincipalId(tenant), scope: 'Mail.ReadWrite offline_access User.Read' },
    ]);
    const record = appended.find((a) => a.record.Operation === 'Consent to application.')!.record;
    expect(record.ObjectId).toBe(c.servicePrincipalId);
    expect(JSON.stringify(record.Target)).toContain(c.servicePrincipalId);
    const perms = (record.ModifiedProperties as Array<{ Name: string; NewValue: string }>).find((m) => m.Name === 'ConsentAction.Permissions')!;
    expect(perms.NewValue).toContain(`ClientId: ${c.servicePrincipalId}`);
    expect(perms.NewValue).toContain(`Id: ${c.grantId}`);
  });

  it('filters by clientId, by principalId and by both, and rejects other filters with Request_UnsupportedQuery', async () => {
    const a = consent('jane@contoso.com');
    consent('raj@contoso.com', { servicePrincipalId: a.servicePrincipalId, appId: a.appId });
    const b = consent('raj@contoso.com');
    const [jane, raj] = ['jane@contoso.com', 'raj@contoso.com'].map((u) => tenant.users.find((x) => x.upn === u)!);
    const ids = async (filter: string) => (await graph('GET', `/v1.0/oauth2PermissionGrants?$filter=${q(filter)}`)).json.value.map((g: { clientId: string; principalId: string }) => `${g.clientId}/${g.principalId}`);
    expect(await ids(`clientId eq '${a.servicePrincipalId}'`)).toEqual([`${a.servicePrincipalId}/${jane.id}`, `${a.servicePrincipalId}/${raj.id}`]);
    expect(await ids(`principalId eq '${raj.id}'`)).toEqual([`${a.servicePrincipalId}/${raj.id}`, `${b.servicePrincipalId}/${raj.id}`]);
    expect(await ids(`clientId eq '${a.servicePrincipalId}' and principalId eq '${jane.id}'`)).toEqual([`${a.servicePrincipalId}/${jane.id}`]);
    expect(await ids(`clientId eq '${jane.id}'`)).toEqual([]);
    const bad = await graph('GET', `/v1.0/oauth2PermissionGrants?$filter=${q("startswith(scope,'Mail')")}`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('Request_UnsupportedQuery');
  });

  it('gets one grant by id and answers 404 Request_ResourceNotFound for an unknown one', async () => {
    const c = consent('jane@contoso.com');
    const r = await graph('GET', `/v1.0/oauth2PermissionGrants/${c.grantId}`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: c.grantId, clientId: c.servicePrincipalId, consentType: 'Principal', scope: c.scope });
    const missing = await graph('GET', '/v1.0/oauth2PermissionGrants/nope');
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('Request_ResourceNotFound');
  });

  it('deletes a grant with 204, leaves the others, writes "Remove delegated permission grant." and 404s a second delete', async () => {
    const a = consent('jane@contoso.com');
    const b = consent('raj@contoso.com');
    const del = await graph('DELETE', `/v1.0/oauth2PermissionGrants/${a.grantId}`);
    expect(del.status).toBe(204);
    expect(tenant.oauthGrants.map((g) => g.id)).toEqual([b.grantId]);
    const rec = appended.find((x) => x.record.Operation === 'Remove delegated permission grant.');
    expect(rec?.contentType).toBe('Audit.AzureActiveDirectory');
    expect(rec?.record).toMatchObject({
      RecordType: 8, Workload: 'AzureActiveDirectory', OrganizationId: T1, ResultStatus: 'Success', UserType: 5, ObjectId: a.resourceId,
      CreationTime: '2026-09-10T12:00:00',
    });
    expect(rec?.record.ModifiedProperties).toEqual(expect.arrayContaining([
      { Name: 'DelegatedPermissionGrant.Scope', NewValue: '', OldValue: ` ${a.scope}` },
      { Name: 'ServicePrincipal.ObjectID', NewValue: '', OldValue: a.servicePrincipalId },
    ]));
    expect(JSON.stringify(rec?.record.Actor)).toContain(APP);
    const again = await graph('DELETE', `/v1.0/oauth2PermissionGrants/${a.grantId}`);
    expect(again.status).toBe(404);
    expect(again.json.error.code).toBe('Request_ResourceNotFound');
    expect(directory.snapshot(tenant)).toMatchObject({ oauthGrants: [{ id: b.grantId }] });
  });

  it('checks app roles: Directory.Read.All reads but cannot delete (403 Authorization_RequestDenied), DelegatedPermissionGrant.ReadWrite.All deletes', async () => {
    const c = consent('jane@contoso.com');
    const readOnly = ['Directory.Read.All'];
    expect((await graph('GET', '/v1.0/oauth2PermissionGrants', readOnly)).status).toBe(200);
    expect((await graph('GET', '/v1.0/oauth2PermissionGrants', ['DelegatedPermissionGrant.Read.All'])).status).toBe(200);
    const none = await graph('GET', '/v1.0/oauth2PermissionGrants', ['User.Read.All']);
    expect(none.status).toBe(403);
    const denied = await graph('DELETE', `/v1.0/oauth2PermissionGrants/${c.grantId}`, readOnly);
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('Authorization_RequestDenied');
    expect(tenant.oauthGrants).toHaveLength(1);
    expect(appended.some((x) => x.record.Operation === 'Remove delegated permission grant.')).toBe(false);
    expect((await graph('DELETE', `/v1.0/oauth2PermissionGrants/${c.grantId}`, ['DelegatedPermissionGrant.ReadWrite.All'])).status).toBe(204);
  });
});
