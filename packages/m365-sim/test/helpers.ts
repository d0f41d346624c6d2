// Test helpers: an in-process simulator on a real HTTPS port, and a plain undici client trusting its CA.
import { generateKeyPairSync, createHash, sign as cryptoSign, randomUUID, constants } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { Agent, request, type Dispatcher } from 'undici';
import { startSimServer, type StartSimServerOptions } from '../src/index.ts';
import type { SimServer } from '../src/server.ts';
import type { WorldInput } from '../src/world.ts';

export const APP_ID = '6f1e2d3c-0000-4000-8000-00000000a001';
export const SECRET = 'sim-secret-1';
export const PARTNER = '9a9a9a9a-0000-4000-8000-000000000001';
export const CONTOSO = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
export const FABRIKAM = '5b3d8e21-4f6a-4c2e-8d19-7a0c3e5f1b22';
export const NORTHWIND = '8c1e4b77-2d3f-4a6b-9e80-1f2a3b4c5d33'; // not consented
export const ADATUM = 'd4e5f6a7-8b9c-4d0e-a1f2-3b4c5d6e7f44'; // audit log off

export interface Res<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  status: number;
  headers: Record<string, string>;
  body: T;
  text: string;
}

export interface TestSim {
  server: SimServer;
  url: string;
  dispatcher: Dispatcher;
  call<T = any>(method: string, pathOrUrl: string, opts?: { body?: unknown; form?: Record<string, string>; headers?: Record<string, string>; token?: string }): Promise<Res<T>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  token(tenant: string, resource?: string, extra?: Record<string, string>): Promise<string>;
  close(): Promise<void>;
}

export async function startTestSim(opts: StartSimServerOptions = {}): Promise<TestSim> {
  const server = await startSimServer({ latencySeconds: 0, ...opts });
  const dispatcher = new Agent(server.ca ? { connect: { ca: server.ca } } : {});
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function call<T = any>(method: string, pathOrUrl: string, o: { body?: unknown; form?: Record<string, string>; headers?: Record<string, string>; token?: string } = {}): Promise<Res<T>> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    let body: string | undefined;
    if (o.form) {
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
      body = new URLSearchParams(o.form).toString();
    } else if (o.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    }
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    const res = await request(pathOrUrl.startsWith('http') ? pathOrUrl : `${server.url}${pathOrUrl}`, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
    return { status: res.statusCode, headers: h, body: parsed as T, text };
  }
  async function token(tenant: string, resource = 'https://manage.office.com', extra: Record<string, string> = {}): Promise<string> {
    const r = await call('POST', `/${tenant}/oauth2/v2.0/token`, { form: { client_id: APP_ID, client_secret: SECRET, grant_type: 'client_credentials', scope: `${resource}/.default`, ...extra } });
    if (r.status !== 200) throw new Error(`token ${r.status} ${r.text}`);
    return r.body.access_token as string;
  }
  return {
    server,
    url: server.url,
    dispatcher,
    call,
    token,
    async close() {
      await dispatcher.close();
      await server.close();
    },
  };
}

export function decodeJwt(jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h, c] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), claims: JSON.parse(Buffer.from(c!, 'base64url').toString()) };
}

/** A self-signed app certificate (PEM file + key) like the one an MSP registers on its app. */
export function makeAppCertificate(): { certPath: string; certPem: string; keyPem: string; der: Buffer; dir: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '01' + randomUUID().replace(/-/g, '').slice(0, 14);
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: 'tenantwatch app' }]);
  cert.setIssuer([{ name: 'commonName', value: 'tenantwatch app' }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const dir = mkdtempSync(join(tmpdir(), 'm365-sim-test-'));
  const certPath = join(dir, 'app-cert.pem');
  writeFileSync(certPath, certPem);
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { certPath, certPem, keyPem: privateKey, der, dir };
}

/** A client assertion as the certificate-credentials page describes (RS256 + x5t or PS256 + x5t#S256). */
export function clientAssertion(o: { keyPem: string; der: Buffer; aud: string; alg?: 'RS256' | 'PS256'; iss?: string; exp?: number; nbf?: number }): string {
  const alg = o.alg ?? 'PS256';
  const header = alg === 'PS256' ? { alg, typ: 'JWT', 'x5t#S256': createHash('sha256').update(o.der).digest('base64url') } : { alg, typ: 'JWT', x5t: createHash('sha1').update(o.der).digest('base64url') };
  const now = Math.floor(Date.now() / 1000);
  const claims = { aud: o.aud, iss: o.iss ?? APP_ID, sub: o.iss ?? APP_ID, jti: randomUUID(), nbf: o.nbf ?? now, iat: now, exp: o.exp ?? now + 600 };
  const data = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const sig = alg === 'PS256' ? cryptoSign('sha256', Buffer.from(data), { key: o.keyPem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }) : cryptoSign('sha256', Buffer.from(data), o.keyPem);
  return `${data}.${sig.toString('base64url')}`;
}

/** A small world with one certificate-capable app and the demo's tenants. */
export function worldWith(extra: Partial<WorldInput> = {}): WorldInput {
  return {
    app: { clientId: APP_ID, clientSecret: SECRET },
    partner: { tenantId: PARTNER, domain: 'msp.example' },
    tenants: [
      { id: CONTOSO, name: 'Contoso Ltd', domains: ['contoso.com', 'contoso.onmicrosoft.com'], consented: true, gdap: 'active', auditLogEnabled: true, users: [{ upn: 'jane@contoso.com', displayName: 'Jane Doe' }] },
      { id: NORTHWIND, name: 'Northwind', domains: ['northwind.example'], consented: false, gdap: 'active', auditLogEnabled: true, users: [] },
      { id: ADATUM, name: 'Adatum', domains: ['adatum.com'], consented: true, gdap: 'none', auditLogEnabled: false, users: [] },
    ],
    ...extra,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
