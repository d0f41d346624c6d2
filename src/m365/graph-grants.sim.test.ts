// The Graph client's delegated permission grant calls against the real simulator (HTTPS, MSAL): the
// $filter on clientId/principalId (quotes doubled), DELETE, and Microsoft's codes on a missing grant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type StartedSim } from '../../test/helpers/sim.ts';
import { configSchema, type Config } from '../config.ts';
import { createGraphClient, type GraphClient } from './graph.ts';
import { createM365Http, type M365Http } from './http.ts';
import { createTokenProvider } from './token.ts';
import { M365Error } from './m365-error.ts';

const PARTNER = '9a9a9a9a-0000-4000-8000-000000000001';
const CLIENT_ID = '6f1e2d3c-0000-4000-8000-00000000a001';
const SECRET = 'sim-secret-grants-1';
const TENANT = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';

let sim: StartedSim;
let config: Readonly<Config>;
let http: M365Http;
let graph: GraphClient;

beforeAll(async () => {
  sim = await startSim({
    world: {
      app: { clientId: CLIENT_ID, clientSecret: SECRET },
      partner: { tenantId: PARTNER, domain: 'msp.example' },
      tenants: [{ id: TENANT, name: 'Contoso Ltd', domains: ['contoso.com'], consented: true, gdap: 'active', users: [{ upn: 'jane@contoso.com' }, { upn: 'raj@contoso.com' }] }],
    },
  });
  config = configSchema.parse({
    microsoft: { partnerTenantId: PARTNER, clientId: CLIENT_ID, clientSecret: SECRET, baseUrls: { login: sim.url, management: sim.url, graph: sim.url, exchange: sim.url }, caFile: sim.caPath, maxRetries: 1 },
  });
  http = createM365Http({ config, tokens: createTokenProvider({ config }) });
  graph = createGraphClient(http, config);
}, 120_000);

afterAll(async () => {
  await http?.close();
  await sim?.stop();
});

describe('Graph oauth2PermissionGrants client', () => {
  it('lists grants by client service principal and by user, deletes one, and reports Request_ResourceNotFound for a missing one', async () => {
    const a = (await sim.control.activity(TENANT, 'illicit-consent', { user: 'jane@contoso.com' })).detail as { consent: { servicePrincipalId: string; appId: string; grantId: string } };
    await sim.control.activity(TENANT, 'illicit-consent', { user: 'raj@contoso.com', servicePrincipalId: a.consent.servicePrincipalId, appId: a.consent.appId });
    const jane = await graph.getUser(TENANT, 'jane@contoso.com');

    const all = await graph.listOAuth2PermissionGrants(TENANT);
    expect(all).toHaveLength(2);
    const byApp = await graph.listOAuth2PermissionGrants(TENANT, { clientId: a.consent.servicePrincipalId });
    expect(byApp).toHaveLength(2);
    const mine = await graph.listOAuth2PermissionGrants(TENANT, { clientId: a.consent.servicePrincipalId, principalId: jane.id });
    expect(mine).toEqual([expect.objectContaining({ id: a.consent.grantId, clientId: a.consent.servicePrincipalId, principalId: jane.id, consentType: 'Principal', scope: expect.stringContaining('Mail.ReadWrite') })]);
    expect(typeof mine[0].resourceId).toBe('string');
    // A quote in a value is doubled, never ends the literal.
    expect(await graph.listOAuth2PermissionGrants(TENANT, { clientId: "x' or clientId eq '" })).toEqual([]);

    await graph.deleteOAuth2PermissionGrant(TENANT, a.consent.grantId);
    expect((await graph.listOAuth2PermissionGrants(TENANT)).map((g) => g.principalId)).not.toContain(jane.id);
    const err = await graph.deleteOAuth2PermissionGrant(TENANT, a.consent.grantId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(M365Error);
    expect((err as M365Error).upstreamCode).toBe('Request_ResourceNotFound');
  });
});
