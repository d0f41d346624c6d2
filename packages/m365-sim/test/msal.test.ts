// An independent client: @azure/msal-node gets tokens from the simulator by secret and by certificate
// (m365-api §1.4: knownAuthorities as host:port, a networkClient over undici trusting the CA).
import { createHash } from 'node:crypto';
import { ConfidentialClientApplication, type INetworkModule, type NetworkResponse } from '@azure/msal-node';
import { request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ID, CONTOSO, SECRET, decodeJwt, makeAppCertificate, startTestSim, worldWith, type TestSim } from './helpers.ts';

const cert = makeAppCertificate();
let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim({ world: worldWith({ app: { clientId: APP_ID, clientSecret: SECRET, certificate: cert.certPath } }) });
});
afterAll(async () => sim.close());

function networkClient(dispatcher: Dispatcher): INetworkModule {
  const send = async <T>(method: 'GET' | 'POST', url: string, options?: { headers?: Record<string, string>; body?: string }): Promise<NetworkResponse<T>> => {
    const res = await request(url, { method, dispatcher, headers: options?.headers, body: options?.body });
    const text = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    return { headers, body: (text ? JSON.parse(text) : {}) as T, status: res.statusCode };
  };
  return {
    sendGetRequestAsync: (url, options) => send('GET', url, options),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}

describe('@azure/msal-node against the simulator', () => {
  it('acquires a Management API token by client secret', async () => {
    await sim.call('DELETE', '/_sim/requests');
    const host = new URL(sim.url).host;
    const app = new ConfidentialClientApplication({
      auth: { clientId: APP_ID, clientSecret: SECRET, authority: `${sim.url}/${CONTOSO}`, knownAuthorities: [host] },
      system: { networkClient: networkClient(sim.dispatcher) },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: ['https://manage.office.com/.default'] });
    expect(result?.accessToken).toBeTruthy();
    const { claims } = decodeJwt(result!.accessToken);
    expect(claims).toMatchObject({ tid: CONTOSO, aud: 'https://manage.office.com', appidacr: '1' });
    const list = await sim.call('GET', `/api/v1.0/${CONTOSO}/activity/feed/subscriptions/list`, { token: result!.accessToken });
    expect(list.status).toBe(200);
    const log = (await sim.call('GET', '/_sim/requests')).body as Array<{ method: string; path: string; status: number; resource?: string }>;
    expect(log.some((e) => e.method === 'GET' && e.path.startsWith(`/${CONTOSO}/v2.0/.well-known/openid-configuration`) && e.status === 200)).toBe(true);
    expect(log.some((e) => e.method === 'POST' && e.path.startsWith(`/${CONTOSO}/oauth2/v2.0/token`) && e.status === 200 && e.resource === 'https://manage.office.com/.default')).toBe(true);
  });

  it('acquires a Graph token by certificate (PS256 with x5t#S256)', async () => {
    const host = new URL(sim.url).host;
    const app = new ConfidentialClientApplication({
      auth: {
        clientId: APP_ID,
        authority: `${sim.url}/${CONTOSO}`,
        knownAuthorities: [host],
        clientCertificate: { thumbprintSha256: createHash('sha256').update(cert.der).digest('hex'), privateKey: cert.keyPem },
      },
      system: { networkClient: networkClient(sim.dispatcher) },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    const { claims } = decodeJwt(result!.accessToken);
    expect(claims).toMatchObject({ tid: CONTOSO, aud: 'https://graph.microsoft.com', appidacr: '2' });
  });

  it('surfaces the AADSTS error of a wrong secret as an MSAL error with the code', async () => {
    const host = new URL(sim.url).host;
    const app = new ConfidentialClientApplication({
      auth: { clientId: APP_ID, clientSecret: 'wrong', authority: `${sim.url}/${CONTOSO}`, knownAuthorities: [host] },
      system: { networkClient: networkClient(sim.dispatcher) },
    });
    await expect(app.acquireTokenByClientCredential({ scopes: ['https://manage.office.com/.default'] })).rejects.toMatchObject({ errorCode: 'invalid_client', errorMessage: expect.stringContaining('AADSTS7000215') });
  });
});
