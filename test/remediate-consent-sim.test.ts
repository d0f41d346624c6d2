// The revoke-consent step against the real simulator (HTTPS, MSAL): after the illicit-consent scenario the
// real rule pack's alert drives a remediation that deletes exactly the consenting user's grant of that app
// (Graph oauth2PermissionGrants), the audit log shows "Remove delegated permission grant.", and a tenant
// whose app lacks DelegatedPermissionGrant.ReadWrite.All gets a failed step while the rest of the run goes on.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config.ts';
import { silentLogger } from '../src/log.ts';
import { recordDetections } from '../src/alerts/record.ts';
import { createExchangeClient } from '../src/m365/exchange.ts';
import { createGraphClient } from '../src/m365/graph.ts';
import { createM365Http, type M365Http } from '../src/m365/http.ts';
import { createManagementApi } from '../src/m365/management-api.ts';
import { createTokenProvider } from '../src/m365/token.ts';
import { registerRemediationRoutes } from '../src/remediate/routes.ts';
import type { Detection, TenantContext } from '../src/model.ts';
import { createDetector } from '../src/detect/detector.ts';
import { createMemoryHistory } from '../src/detect/history.ts';
import { normalizeRecord } from '../src/detect/normalize.ts';
import { loadRulePackFromDirs } from '../rules/index.ts';
import { startSim, type StartedSim } from './helpers/sim.ts';
import { freshStore, type TestStore } from './helpers/stores.ts';

const TENANT = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const NOPERM = '5b3d8e21-4f6a-4c2e-8d19-7a0c3e5f1b22';
const PARTNER = '9a9a9a9a-0000-4000-8000-000000000001';
const CLIENT = '6f1e2d3c-0000-4000-8000-00000000a001';
const SECRET = 'sim-secret-1';
// The app's default roles in the simulator, without DelegatedPermissionGrant.ReadWrite.All.
const ROLES_WITHOUT_GRANT_WRITE = [
  'ActivityFeed.Read', 'Organization.Read.All', 'Domain.Read.All', 'User.Read.All', 'User.EnableDisableAccount.All', 'User.RevokeSessions.All',
  'User-PasswordProfile.ReadWrite.All', 'MailboxSettings.ReadWrite', 'AuditLog.Read.All', 'Directory.Read.All', 'DelegatedAdminRelationship.Read.All',
  'Exchange.ManageAsApp',
];

const tenant = (id: string, name: string, domain: string, extra: Record<string, unknown> = {}) => ({
  id, name, domains: [domain, `${domain.split('.')[0]}.onmicrosoft.com`], consented: true, gdap: 'active', auditLogEnabled: true,
  users: ['ava', 'ben', 'cara'].map((u) => ({ upn: `${u}@${domain}`, displayName: u })),
  subscriptions: ['Audit.AzureActiveDirectory', 'Audit.Exchange'],
  ...extra,
});

const world = {
  app: { clientId: CLIENT, clientSecret: SECRET },
  partner: { tenantId: PARTNER, domain: 'msp.example' },
  tenants: [tenant(TENANT, 'Contoso Ltd', 'contoso.com'), tenant(NOPERM, 'Fabrikam Inc', 'fabrikam.com', { roles: ROLES_WITHOUT_GRANT_WRITE })],
};

let sim: StartedSim;
let store: TestStore;
let config: Readonly<Config>;
let http: M365Http;
let app: FastifyInstance;

interface Consent { appId: string; servicePrincipalId: string; grantId: string; scope: string; resourceId: string }
interface Grant { id: string; clientId: string; principalId: string | null; scope: string; consentType: string }

async function consent(tenantId: string, user: string, reuse?: Consent): Promise<Consent> {
  const r = await sim.control.activity(tenantId, 'illicit-consent', { user, ...(reuse ? { servicePrincipalId: reuse.servicePrincipalId, appId: reuse.appId } : {}) });
  return (r.detail as { consent: Consent }).consent;
}

async function grants(tenantId: string): Promise<Grant[]> {
  return (await sim.control.state(tenantId)).oauthGrants;
}

/** The tenant's audit records (read back through the Management Activity API) that mention `needle`. */
async function auditRecords(tenantId: string, needle: string): Promise<Array<Record<string, unknown>>> {
  const mgmt = createManagementApi({ config, http });
  const out: Array<Record<string, unknown>> = [];
  const end = new Date(Date.now() + 60_000);
  for await (const items of mgmt.listContent(tenantId, 'Audit.AzureActiveDirectory', new Date(end.getTime() - 3600_000), end)) {
    for (const item of items) {
      const blob = await mgmt.fetchBlob(tenantId, item.contentUri, item.contentId);
      if (blob.ok) for (const rec of blob.records as Array<Record<string, unknown>>) if (JSON.stringify(rec).includes(needle)) out.push(rec);
    }
  }
  return out;
}

const api = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
  app.inject({ method, url, headers: { 'x-test-user': 'alice' }, ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) });

beforeAll(async () => {
  sim = await startSim({ world });
  store = await freshStore('sqlite');
  config = loadConfig({
    env: {},
    overrides: {
      microsoft: {
        partnerTenantId: PARTNER, clientId: CLIENT, clientSecret: SECRET, caFile: sim.caPath, maxRetries: 1,
        baseUrls: { login: sim.url, management: sim.url, graph: sim.url, exchange: sim.url },
      },
      remediate: { linkSecret: 'remediation-link-secret-for-tests-0123456789' },
      web: { publicUrl: 'https://tw.example' },
    },
  });
  const logger = silentLogger();
  const tokens = createTokenProvider({ config, logger });
  http = createM365Http({ config, tokens, logger, maxRetryAfterMs: 1000, backoffBaseMs: 10, backoffMaxMs: 50 });
  app = Fastify({ logger: false });
  await registerRemediationRoutes(app, {
    db: store.db, config, logger,
    graph: createGraphClient(http, config),
    exchange: createExchangeClient(http, config),
    currentUser: (req) => (req.headers['x-test-user'] === 'alice' ? { username: 'alice', role: 'admin' } : undefined),
    linkIdentity: 'name',
  });
  await app.ready();
}, 120_000);

afterAll(async () => {
  await app?.close();
  await http?.close();
  await store?.dispose();
  await sim?.stop();
});

describe('revoke-consent against m365-sim', () => {
  it('removes exactly the consenting user\'s grant named by the real rule pack\'s illicit-consent alert, lists it first in a dry run, and the audit log shows the removal', async () => {
    const attack = await consent(TENANT, 'ava@contoso.com');
    const sameAppOtherUser = await consent(TENANT, 'ben@contoso.com', attack);
    const otherApp = await consent(TENANT, 'cara@contoso.com');
    const st = await sim.control.state(TENANT);
    const ava = st.users.find((u: { upn: string }) => u.upn === 'ava@contoso.com');
    expect((await grants(TENANT)).map((g) => g.id).sort()).toEqual([attack.grantId, sameAppOtherUser.grantId, otherApp.grantId].sort());

    // Detection → alert with the real rule pack, from the records Microsoft would write.
    const records = await auditRecords(TENANT, attack.servicePrincipalId);
    const ctx: TenantContext = { tenantId: TENANT, name: 'Contoso Ltd', known: true, trustedIps: [], exclusions: [], acceptedDomains: [{ domain: 'contoso.com', matchSubdomains: false }], recipients: [] };
    const detector = createDetector({ pack: loadRulePackFromDirs([]).pack });
    const history = createMemoryHistory();
    const detections: Detection[] = [];
    for (const raw of records) {
      const n = normalizeRecord(raw);
      if (n.ok && n.record.userId === 'ava@contoso.com') detections.push(...detector.evaluate(n.record, ctx, history));
    }
    const consentDets = detections.filter((d) => d.behaviour === 'illicit-consent');
    expect(consentDets.length).toBeGreaterThan(0);
    const changes = await store.db.transaction().execute((trx) => recordDetections(trx, consentDets, { config, context: () => ctx }));
    const alertId = changes[0].alertId;

    const plan = (await api('GET', `/api/alerts/${alertId}/remediation-plan`)).json();
    expect(plan.defaultSteps).toContain('revoke-consent');

    const dry = (await api('POST', `/api/alerts/${alertId}/remediate`, { steps: ['revoke-consent'], dryRun: true })).json();
    expect(dry.status).toBe('dry-run');
    expect(dry.steps[0]).toMatchObject({ step: 'revoke-consent', status: 'planned', items: [{ kind: 'consent-grant', identity: attack.grantId, status: 'planned' }] });
    expect(dry.steps[0].detail).toContain('1 other grant(s) of the same application');
    expect((await grants(TENANT))).toHaveLength(3);

    const run = (await api('POST', `/api/alerts/${alertId}/remediate`, { steps: plan.defaultSteps })).json();
    expect(run.status).toBe('succeeded');
    const step = run.steps.find((s: { step: string }) => s.step === 'revoke-consent');
    expect(step).toMatchObject({ status: 'succeeded', undoable: false });
    expect(step.items).toEqual([
      expect.objectContaining({
        kind: 'consent-grant', identity: attack.grantId, status: 'succeeded', after: { removed: true },
        before: { clientId: attack.servicePrincipalId, consentType: 'Principal', principalId: ava.id, resourceId: attack.resourceId, scope: attack.scope },
      }),
    ]);
    const left = await grants(TENANT);
    expect(left.map((g) => g.id).sort()).toEqual([sameAppOtherUser.grantId, otherApp.grantId].sort());

    const stored = await store.db.selectFrom('remediation_steps').selectAll().where('run_id', '=', run.runId).where('step', '=', 'revoke-consent').executeTakeFirstOrThrow();
    expect(stored.status).toBe('succeeded');

    const removal = (await auditRecords(TENANT, attack.servicePrincipalId)).filter((r) => r.Operation === 'Remove delegated permission grant.');
    expect(removal).toHaveLength(1);
    expect(removal[0]).toMatchObject({ RecordType: 8, Workload: 'AzureActiveDirectory', OrganizationId: TENANT, ResultStatus: 'Success' });
    expect(removal[0].ModifiedProperties).toEqual(expect.arrayContaining([{ Name: 'ServicePrincipal.ObjectID', NewValue: '', OldValue: attack.servicePrincipalId }]));

    // Running again finds nothing left to do; undo says why it cannot bring the grant back.
    const again = (await api('POST', `/api/alerts/${alertId}/remediate`, { steps: ['revoke-consent'] })).json();
    expect(again.steps[0]).toMatchObject({ status: 'skipped', detail: expect.stringContaining('already revoked') });
    const undo = await api('POST', `/api/remediations/${run.runId}/undo`, {});
    expect(undo.statusCode).toBeGreaterThanOrEqual(400);
    expect(undo.body).toContain('TW_REMEDIATE_NOT_UNDOABLE');
    expect(undo.body).toContain('re-creating the grant would hand the application');
    expect(await grants(TENANT)).toHaveLength(2);
  });

  it('records a failed revoke-consent with Microsoft\'s 403 and the fix when the app lacks DelegatedPermissionGrant.ReadWrite.All, runs the other steps, and reports partially-succeeded', async () => {
    const attack = await consent(NOPERM, 'ava@fabrikam.com');
    const det: Detection = {
      recordId: randomUUID(), ruleId: 'illicit-consent', behaviour: 'illicit-consent', severity: 'high', tenantId: NOPERM, userId: 'ava@fabrikam.com',
      summary: 'ava@fabrikam.com consented to application Mail Helper Pro', attempt: false, occurredAt: new Date().toISOString(),
      target: attack.servicePrincipalId, facts: { consentAppId: attack.servicePrincipalId, consentIsAdmin: false, consentMailScopes: ['Mail.ReadWrite'] },
    };
    const [change] = await store.db.transaction().execute((trx) => recordDetections(trx, [det], { config }));
    const run = (await api('POST', `/api/alerts/${change.alertId}/remediate`, { steps: ['revoke-sessions', 'revoke-consent'] })).json();
    expect(run.status).toBe('partially-succeeded');
    expect(run.steps.map((s: { step: string; status: string }) => [s.step, s.status])).toEqual([['revoke-sessions', 'succeeded'], ['revoke-consent', 'failed']]);
    const failed = run.steps[1];
    expect(failed.error).toMatchObject({ code: 'Authorization_RequestDenied', status: 403 });
    expect(failed.error.fix).toContain('DelegatedPermissionGrant.ReadWrite.All');
    expect(failed.items).toEqual([expect.objectContaining({ identity: attack.grantId, status: 'failed' })]);
    expect((await grants(NOPERM)).map((g) => g.id)).toEqual([attack.grantId]);
    const st = await sim.control.state(NOPERM);
    expect(st.users.find((u: { upn: string }) => u.upn === 'ava@fabrikam.com').sessionsRevokedAt).toBeTruthy();
  });
});
