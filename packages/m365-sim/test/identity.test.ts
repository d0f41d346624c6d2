/* eslint-disable @typescript-eslint/no-explicit-any -- JSON response bodies are read loosely in tests */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ID, CONTOSO, NORTHWIND, PARTNER, SECRET, clientAssertion, decodeJwt, makeAppCertificate, startTestSim, worldWith, type TestSim } from './helpers.ts';

const cert = makeAppCertificate();
let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim({ world: worldWith({ app: { clientId: APP_ID, clientSecret: SECRET, certificate: cert.certPath, clientSecretExpiresAt: undefined } }) });
});
afterAll(async () => sim.close());

const form = (extra: Record<string, string> = {}) => ({ client_id: APP_ID, client_secret: SECRET, grant_type: 'client_credentials', scope: 'https://manage.office.com/.default', ...extra });

function expectAad(r: { status: number; body: any }, status: number, error: string, code: number) {
  expect(r.status).toBe(status);
  expect(r.body.error).toBe(error);
  expect(r.body.error_codes).toEqual([code]);
  expect(r.body.error_description).toMatch(new RegExp(`^AADSTS${code}: .*\\r\\nTrace ID: [0-9a-f-]{36}\\r\\nCorrelation ID: [0-9a-f-]{36}\\r\\nTimestamp: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`));
  expect(r.body.trace_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(r.body.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(r.body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  expect(r.body.error_uri).toBe(`https://login.microsoftonline.com/error?code=${code}`);
}

describe('OpenID metadata, keys and instance discovery', () => {
  it('serves the v2.0 OpenID configuration with the four fields MSAL needs, for a GUID and a domain', async () => {
    for (const t of [CONTOSO, 'contoso.com']) {
      const r = await sim.call('GET', `/${t}/v2.0/.well-known/openid-configuration`);
      expect(r.status).toBe(200);
      expect(r.body.token_endpoint).toBe(`${sim.url}/${t}/oauth2/v2.0/token`);
      expect(r.body.authorization_endpoint).toBe(`${sim.url}/${t}/oauth2/v2.0/authorize`);
      expect(r.body.issuer).toBe(`${sim.url}/${CONTOSO}/v2.0`);
      expect(r.body.jwks_uri).toContain('/discovery/v2.0/keys');
    }
  });

  it('serves the v1 OpenID configuration with the sts.windows.net issuer', async () => {
    const r = await sim.call('GET', `/${CONTOSO}/.well-known/openid-configuration`);
    expect(r.status).toBe(200);
    expect(r.body.issuer).toBe(`https://sts.windows.net/${CONTOSO}/`);
  });

  it('answers an unknown tenant on the metadata endpoint with invalid_tenant AADSTS90002', async () => {
    const r = await sim.call('GET', '/00000000-1111-4000-8000-000000000000/v2.0/.well-known/openid-configuration');
    expectAad(r, 400, 'invalid_tenant', 90002);
  });

  it('publishes the signing key in the JWKS with kid and x5t matching issued tokens', async () => {
    const keys = await sim.call('GET', `/${CONTOSO}/discovery/v2.0/keys`);
    expect(keys.status).toBe(200);
    const { header } = decodeJwt(await sim.token(CONTOSO));
    expect(keys.body.keys[0]).toMatchObject({ kty: 'RSA', use: 'sig', kid: header.kid, x5t: header.x5t });
    expect(keys.body.keys[0].x5c[0]).toMatch(/^[A-Za-z0-9+/=]+$/);
  });

  it('answers instance discovery like Microsoft for its own host and refuses other hosts with AADSTS50049', async () => {
    const ok = await sim.call('GET', `/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${sim.url}/${CONTOSO}/oauth2/v2.0/authorize`)}`);
    expect(ok.status).toBe(200);
    const host = new URL(sim.url).host;
    expect(ok.body).toEqual({ tenant_discovery_endpoint: `${sim.url}/{tenant}/v2.0/.well-known/openid-configuration`, 'api-version': '1.1', metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }] });
    const bad = await sim.call('GET', `/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent('https://evil.example/x/oauth2/v2.0/authorize')}`);
    expectAad(bad, 400, 'invalid_instance', 50049);
  });
});

describe('token endpoint: client credentials by secret', () => {
  it('issues a v1.0 access token for the requested resource with tid, roles, appid and appidacr 1', async () => {
    const r = await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: form() });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
    const { header, claims } = decodeJwt(r.body.access_token);
    expect(header).toMatchObject({ typ: 'JWT', alg: 'RS256' });
    expect(claims).toMatchObject({ aud: 'https://manage.office.com', iss: `https://sts.windows.net/${CONTOSO}/`, tid: CONTOSO, appid: APP_ID, appidacr: '1', idtyp: 'app', ver: '1.0' });
    expect(claims.roles).toContain('ActivityFeed.Read');
    expect(Number(claims.exp) - Number(claims.iat)).toBe(3599);
    expect(claims.nbf).toBe(claims.iat);
  });

  it('gives each resource its own audience and only that resource roles', async () => {
    const graph = decodeJwt(await sim.token(CONTOSO, 'https://graph.microsoft.com')).claims;
    expect(graph.aud).toBe('https://graph.microsoft.com');
    expect(graph.roles).not.toContain('ActivityFeed.Read');
    const exo = decodeJwt(await sim.token(CONTOSO, 'https://outlook.office365.com')).claims;
    expect(exo.aud).toBe('https://outlook.office365.com');
    expect(exo.roles).toContain('Exchange.ManageAsApp');
  });

  it('accepts a verified domain in place of the tenant GUID and issues the token for the GUID', async () => {
    const r = await sim.call('POST', '/contoso.onmicrosoft.com/oauth2/v2.0/token', { form: form() });
    expect(r.status).toBe(200);
    expect(decodeJwt(r.body.access_token).claims.tid).toBe(CONTOSO);
  });

  it('issues tokens for the partner tenant itself', async () => {
    const r = await sim.call('POST', `/${PARTNER}/oauth2/v2.0/token`, { form: form({ scope: 'https://graph.microsoft.com/.default' }) });
    expect(r.status).toBe(200);
    expect(decodeJwt(r.body.access_token).claims.tid).toBe(PARTNER);
  });

  it('ignores the extra form fields MSAL adds', async () => {
    const r = await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: form({ 'x-client-SKU': 'msal.js.node', 'x-client-VER': '7.2.0', 'client-request-id': '5f0c1e2a-1111-4222-8333-944455556666', 'x-ms-lib-capability': 'retry-after, h429' }) });
    expect(r.status).toBe(200);
  });

  it('issues a role-less token when the app is consented but holds no role for the resource', async () => {
    const before = (await sim.call('GET', `/_sim/tenants/${CONTOSO}/state`)).body.roles as string[];
    await sim.call('POST', `/_sim/tenants/${CONTOSO}/config`, { body: { roles: ['User.Read.All'] } });
    try {
      const r = await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: form() });
      expect(r.status).toBe(200);
      expect(decodeJwt(r.body.access_token).claims.roles).toBeUndefined();
      const list = await sim.call('GET', `/api/v1.0/${CONTOSO}/activity/feed/subscriptions/list`, { token: r.body.access_token });
      expect(list.status).toBe(401);
      expect(list.body.error.code).toBe('AF10001');
    } finally {
      await sim.call('POST', `/_sim/tenants/${CONTOSO}/config`, { body: { roles: before } });
    }
  });

  it('serves the v1 token endpoint with resource= as well', async () => {
    const r = await sim.call('POST', `/${CONTOSO}/oauth2/token`, { form: { client_id: APP_ID, client_secret: SECRET, grant_type: 'client_credentials', resource: 'https://manage.office.com' } });
    expect(r.status).toBe(200);
    expect(r.body.resource).toBe('https://manage.office.com');
    expect(decodeJwt(r.body.access_token).claims.aud).toBe('https://manage.office.com');
  });
});

describe('token endpoint errors', () => {
  it('AADSTS90002 for an unknown tenant', async () => {
    expectAad(await sim.call('POST', '/nosuch.example/oauth2/v2.0/token', { form: form() }), 400, 'invalid_request', 90002);
  });
  it('AADSTS900023 for a tenant that is neither a GUID nor a domain', async () => {
    expectAad(await sim.call('POST', '/not_a_tenant/oauth2/v2.0/token', { form: form() }), 400, 'invalid_request', 900023);
  });
  it('AADSTS9001023 on /common for the client credentials grant', async () => {
    expectAad(await sim.call('POST', '/common/oauth2/v2.0/token', { form: form() }), 400, 'invalid_request', 9001023);
  });
  it('AADSTS700016 when the app was never consented in the tenant', async () => {
    expectAad(await sim.call('POST', `/${NORTHWIND}/oauth2/v2.0/token`, { form: form() }), 400, 'unauthorized_client', 700016);
  });
  it('AADSTS700016 for an unknown client id', async () => {
    expectAad(await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: form({ client_id: '11111111-2222-4333-8444-555555555555' }) }), 400, 'unauthorized_client', 700016);
  });
  it('AADSTS7000215 for a wrong secret', async () => {
    expectAad(await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: form({ client_secret: 'secret-id-not-value' }) }), 401, 'invalid_client', 7000215);
  });
  it('AADSTS7000218 when no credential is sent', async () => {
    const f = form();
    delete (f as Partial<typeof f>).client_secret;
    expectAad(await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: f }), 401, 'invalid_client', 7000218);
  });
  it('AADSTS1002012 for a scope without /.default, AADSTS70011 for a scope naming no resource', async () => {
    expectAad(await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: form({ scope: 'https://manage.office.com/ActivityFeed.Read' }) }), 400, 'invalid_scope', 1002012);
    expectAad(await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: form({ scope: 'openid profile' }) }), 400, 'invalid_scope', 70011);
  });
  it('AADSTS700022 for a scope spanning two resources', async () => {
    expectAad(await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: form({ scope: 'https://manage.office.com/.default https://graph.microsoft.com/.default' }) }), 400, 'invalid_scope', 700022);
  });
  it('AADSTS500011 for a resource the tenant does not know', async () => {
    expectAad(await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: form({ scope: 'https://unknown.example/.default' }) }), 400, 'invalid_resource', 500011);
  });
  it('AADSTS70003 for another grant type', async () => {
    expectAad(await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: form({ grant_type: 'password' }) }), 400, 'unsupported_grant_type', 70003);
  });
  it('answers a JSON body with an AADSTS error, not a stack trace', async () => {
    const r = await sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { body: '{not json' });
    expectAad(r, 400, 'invalid_request', 900144);
  });
});

describe('token endpoint: client credentials by certificate', () => {
  const aud = () => `${sim.url}/${CONTOSO}/oauth2/v2.0/token`;
  const post = (assertion: string) =>
    sim.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: { client_id: APP_ID, grant_type: 'client_credentials', scope: 'https://manage.office.com/.default', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion } });

  it('accepts a PS256 assertion with x5t#S256 and marks the token appidacr 2', async () => {
    const r = await post(clientAssertion({ keyPem: cert.keyPem, der: cert.der, aud: aud(), alg: 'PS256' }));
    expect(r.status).toBe(200);
    expect(decodeJwt(r.body.access_token).claims.appidacr).toBe('2');
  });
  it('accepts an RS256 assertion with x5t', async () => {
    const r = await post(clientAssertion({ keyPem: cert.keyPem, der: cert.der, aud: aud(), alg: 'RS256' }));
    expect(r.status).toBe(200);
  });
  it('AADSTS700027 for an assertion signed by an unregistered certificate', async () => {
    const other = makeAppCertificate();
    expectAad(await post(clientAssertion({ keyPem: other.keyPem, der: other.der, aud: aud() })), 401, 'invalid_client', 700027);
  });
  it('AADSTS700027 for a registered thumbprint with a signature from another key', async () => {
    const other = makeAppCertificate();
    expectAad(await post(clientAssertion({ keyPem: other.keyPem, der: cert.der, aud: aud() })), 401, 'invalid_client', 700027);
  });
  it('AADSTS700027 for an assertion addressed to another audience', async () => {
    expectAad(await post(clientAssertion({ keyPem: cert.keyPem, der: cert.der, aud: 'https://login.microsoftonline.com/other/oauth2/v2.0/token' })), 401, 'invalid_client', 700027);
  });
  it('AADSTS700024 for an expired assertion and for one not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    expectAad(await post(clientAssertion({ keyPem: cert.keyPem, der: cert.der, aud: aud(), nbf: now - 7200, exp: now - 3600 })), 401, 'invalid_client', 700024);
    expectAad(await post(clientAssertion({ keyPem: cert.keyPem, der: cert.der, aud: aud(), nbf: now + 3600, exp: now + 4200 })), 401, 'invalid_client', 700024);
  });
  it('AADSTS50027 for an assertion that is not a JWT', async () => {
    expectAad(await post('not-a-jwt'), 400, 'invalid_request', 50027);
  });
});

describe('expired secrets', () => {
  it('AADSTS7000222 once the client secret has expired', async () => {
    const s = await startTestSim({ world: worldWith({ app: { clientId: APP_ID, clientSecret: SECRET, clientSecretExpiresAt: '2020-01-01T00:00:00Z' } }) });
    try {
      expectAad(await s.call('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: form() }), 401, 'invalid_client', 7000222);
    } finally {
      await s.close();
    }
  });
});
