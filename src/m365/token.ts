// App-only tokens for customer tenants: one MSAL confidential client (certificate preferred, secret
// allowed), one cached token per tenant + resource, refreshed before it expires. The only place that
// holds credentials; errors carry the AADSTS code, never a secret or token.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { ConfidentialClientApplication, LogLevel, type Configuration, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from '@azure/msal-node';
import { Agent, request } from 'undici';
import { CLOUD_BASE_URLS, baseUrlsOf, type Config } from '../config.ts';
import { silentLogger, type Logger } from '../log.ts';
import { M365Error, isM365Error, shorten } from './m365-error.ts';

export type TokenResource = 'management' | 'graph' | 'exchange';

export interface TokenProvider {
  getToken(tenantId: string, resource: TokenResource): Promise<string>;
  /** Drops a cached token (a resource said 401 to it); the next getToken asks Microsoft again. */
  invalidate(tenantId: string, resource: TokenResource): void;
  /** How many token requests went to Microsoft (metrics, tests). */
  readonly stats: { requests: number; cacheHits: number };
  /** Closes the identity connections. */
  close?(): Promise<void>;
}

export interface TokenProviderOptions {
  config: Readonly<Config>;
  logger?: Logger;
  /** Clock (ms), for expiry tests. */
  now?: () => number;
  /** Refresh this long before expiry; default 5 minutes. */
  refreshBeforeMs?: number;
}

/** Login authorities are Microsoft's; tokens are for Microsoft's resource identifiers, whatever base URL reaches them. */
export function scopeFor(config: Pick<Config, 'microsoft'>, resource: TokenResource): string {
  // The scope names a resource (its App ID URI), not the host we talk to: one resource + "/.default" per request,
  // several resources in one request fail with AADSTS700022.
  // https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#first-case-access-token-request-with-a-shared-secret
  return `${CLOUD_BASE_URLS[config.microsoft.cloud][resource]}/.default`;
}

/** The admin consent URL a customer's Global Administrator opens once (the step an MSP does by hand). */
export function consentUrl(config: Pick<Config, 'microsoft' | 'web'>, tenant: string): string {
  const login = baseUrlsOf(config).login;
  const clientId = config.microsoft.clientId ?? '<microsoft.clientId>';
  // Admin consent endpoint grants every application permission the app registration asks for, tenant-wide.
  // https://learn.microsoft.com/entra/identity-platform/v2-admin-consent
  const u = new URL(`${login}/${encodeURIComponent(tenant)}/adminconsent`);
  u.searchParams.set('client_id', clientId);
  if (config.web.publicUrl) u.searchParams.set('redirect_uri', `${config.web.publicUrl.replace(/\/+$/, '')}/`);
  return u.toString();
}

export interface Credential {
  kind: 'certificate' | 'secret';
  clientCertificate?: { thumbprintSha256: string; privateKey: string; x5c: string };
  clientSecret?: string;
}

/** Reads microsoft.certificateFile (PEM: private key + certificate) or the secret; throws TW_M365_* (exit 2). */
export function loadCredential(config: Pick<Config, 'microsoft'>): Credential {
  const m = config.microsoft;
  if (!m.clientId) throw new M365Error('TW_M365_CREDENTIAL_MISSING', { detail: 'microsoft.clientId is not set' }, { resource: 'login', tenantId: '-' });
  if (m.certificateFile) {
    let pem: string;
    try {
      pem = readFileSync(m.certificateFile, 'utf8');
    } catch (e) {
      throw new M365Error('TW_M365_CERTIFICATE_UNREADABLE', { path: m.certificateFile, reason: (e as NodeJS.ErrnoException).code ?? 'unreadable' }, { resource: 'login', tenantId: '-' });
    }
    return { kind: 'certificate', clientCertificate: parseCertificatePem(pem, m.certificateFile, m.certificatePassword) };
  }
  if (m.clientSecret) return { kind: 'secret', clientSecret: m.clientSecret };
  throw new M365Error('TW_M365_CREDENTIAL_MISSING', { detail: 'neither microsoft.certificateFile nor microsoft.clientSecret is set' }, { resource: 'login', tenantId: '-' });
}

export function parseCertificatePem(pem: string, file: string, password?: string): { thumbprintSha256: string; privateKey: string; x5c: string } {
  const certBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  const keyBlock = /-----BEGIN (?:RSA |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |ENCRYPTED )?PRIVATE KEY-----/.exec(pem)?.[0];
  const fail = (reason: string): never => {
    throw new M365Error('TW_M365_CERTIFICATE_UNREADABLE', { path: file, reason }, { resource: 'login', tenantId: '-' });
  };
  if (!certBlock) fail('no "BEGIN CERTIFICATE" block');
  if (!keyBlock) fail('no "BEGIN PRIVATE KEY" block');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certBlock!);
  } catch {
    return fail('the certificate block does not parse');
  }
  let privateKey: string;
  try {
    const key = createPrivateKey({ key: keyBlock!, format: 'pem', ...(password ? { passphrase: password } : {}) });
    if (key.asymmetricKeyType !== 'rsa') fail(`the key is ${key.asymmetricKeyType ?? 'unknown'}, Entra needs RSA`);
    // Entra refuses client assertions signed with keys below 2048 bits.
    // https://learn.microsoft.com/entra/identity-platform/certificate-credentials
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) fail('the RSA key is shorter than 2048 bits');
    if (!cert!.checkPrivateKey(key)) fail('the private key does not belong to the certificate');
    privateKey = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch (e) {
    if (isM365Error(e)) throw e;
    return fail(password ? 'the private key does not decrypt with microsoft.certificatePassword' : 'the private key does not parse (encrypted? set microsoft.certificatePassword)');
  }
  // MSAL signs PS256 with x5t#S256 when given the SHA-256 thumbprint (hex of the DER's SHA-256); `thumbprint` (SHA-1) is deprecated.
  // https://learn.microsoft.com/entra/identity-platform/certificate-credentials#header
  const thumbprintSha256 = createHash('sha256').update(cert!.raw).digest('hex');
  return { thumbprintSha256, privateKey, x5c: certBlock! };
}

/** CA list for undici: Node's roots plus microsoft.caFile (the simulator's CA); TLS verification always on. */
export function trustedCas(config: Pick<Config, 'microsoft'>): string[] | undefined {
  const file = config.microsoft.caFile;
  if (!file) return undefined;
  let extra: string;
  try {
    extra = readFileSync(file, 'utf8');
  } catch (e) {
    throw new M365Error('TW_M365_CERTIFICATE_UNREADABLE', { path: file, reason: `microsoft.caFile: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}` }, { resource: 'login', tenantId: '-' });
  }
  return [...rootCertificates, extra];
}

/** An undici Agent trusting the configured CA; shared by MSAL's network client and M365 HTTP. */
export function createAgent(config: Pick<Config, 'microsoft'>, opts: { connections?: number } = {}): Agent {
  const ca = trustedCas(config);
  return new Agent({
    connect: { ...(ca ? { ca } : {}), rejectUnauthorized: true, timeout: 10_000 },
    connections: opts.connections ?? 32,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    pipelining: 1,
  });
}

/** Remembers the last failed metadata/token answer per URL so MSAL's generic errors can be mapped back to AADSTS codes. */
interface FailureMemo {
  byUrl: Map<string, { status: number; body: string }>;
}

function networkClient(agent: Agent, memo: FailureMemo, timeoutMs: number): INetworkModule {
  // msal-node 7 calls global fetch and has no proxy/CA options; a custom network client on undici is how it trusts another CA
  // without NODE_EXTRA_CA_CERTS for the whole process (m365-api.md §1.4).
  // https://learn.microsoft.com/entra/msal/javascript/node/configuration#network-configuration
  async function send<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    const res = await request(url, {
      method,
      dispatcher: agent,
      headers: options?.headers,
      body: method === 'POST' ? options?.body : undefined,
      headersTimeout: timeout ?? timeoutMs,
      bodyTimeout: timeout ?? timeoutMs,
    });
    const text = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    if (res.statusCode >= 400) {
      const key = url.split('?')[0]!;
      memo.byUrl.set(key, { status: res.statusCode, body: text.slice(0, 4000) });
      if (memo.byUrl.size > 1000) memo.byUrl.delete(memo.byUrl.keys().next().value!);
    }
    let body: unknown = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = {};
    }
    return { headers, body: body as T, status: res.statusCode };
  }
  return {
    sendGetRequestAsync: (url, options, timeout) => send('GET', url, options, timeout),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}

interface Cached {
  token: string;
  expiresAt: number;
}

/** AADSTS code → our coded error. Codes per https://learn.microsoft.com/entra/identity-platform/reference-error-codes */
export function mapTokenError(
  e: unknown,
  ctx: { tenantId: string; resource: TokenResource; consentUrl: string; memo?: FailureMemo; loginBase: string },
): M365Error {
  if (isM365Error(e)) return e;
  const err = e as { errorCode?: string; errorMessage?: string; message?: string; errorNo?: string | number; status?: number };
  let text = `${err?.errorMessage ?? ''} ${err?.message ?? ''}`;
  // MSAL reports a failed metadata fetch (AADSTS90002 on openid-configuration) as a generic endpoints error: look at what the wire said.
  if (ctx.memo && !/AADSTS\d+/.test(text)) {
    for (const [url, f] of ctx.memo.byUrl) {
      if (url.startsWith(`${ctx.loginBase}/${ctx.tenantId}/`)) text += ` ${f.body}`;
    }
  }
  const m = /AADSTS(\d+)/.exec(text) ?? (err?.errorNo ? [`AADSTS${err.errorNo}`, String(err.errorNo)] : null);
  const code = m ? m[1]! : undefined;
  const upstreamCode = code ? `AADSTS${code}` : err?.errorCode;
  const reason = shorten(code ? (/AADSTS\d+:[^\r\n]*/.exec(text)?.[0] ?? `AADSTS${code}`) : (err?.errorCode ?? err?.message ?? 'unknown error'), 200);
  const base = { resource: 'login' as const, tenantId: ctx.tenantId, upstreamCode, upstreamMessage: reason, cause: undefined };
  switch (code) {
    case '700016': // application not found in the tenant: never consented there (or wrong client id)
    case '500011': // resource principal not in tenant: consent incomplete
    case '65001':
      return new M365Error('TW_M365_CONSENT_MISSING', {}, { ...base, fix: `admin consent missing: open ${ctx.consentUrl}` });
    case '90002':
    case '900023':
    case '90013':
      return new M365Error('TW_M365_TENANT_NOT_FOUND', {}, { ...base, fix: 'check the tenant id or domain and microsoft.cloud' });
    case '7000215':
    case '7000222':
    case '7000218':
    case '700027':
    case '700024':
    case '700023':
      return new M365Error('TW_M365_CREDENTIAL_REFUSED', { reason }, { ...base, fix: 'renew or correct the app credential (microsoft.clientSecret / certificateFile)' });
    default: {
      const networkish = !code && /network|ECONN|ETIMEDOUT|ENOTFOUND|UND_ERR|socket|fetch failed/i.test(`${err?.errorCode ?? ''} ${err?.message ?? ''}`);
      const serverish = typeof err?.status === 'number' && (err.status >= 500 || err.status === 429);
      return new M365Error('TW_M365_TOKEN_FAILED', { reason, resource: ctx.resource }, { ...base, retryable: networkish || serverish });
    }
  }
}

export function createTokenProvider(opts: TokenProviderOptions): TokenProvider {
  const { config } = opts;
  const logger = opts.logger ?? silentLogger();
  const now = opts.now ?? Date.now;
  const refreshBeforeMs = opts.refreshBeforeMs ?? 5 * 60_000;
  const cache = new Map<string, Cached>();
  const inflight = new Map<string, Promise<string>>();
  const stats = { requests: 0, cacheHits: 0 };
  const memo: FailureMemo = { byUrl: new Map() };
  let app: ConfidentialClientApplication | undefined;
  let agent: Agent | undefined;
  const login = baseUrlsOf(config).login;

  function client(): ConfidentialClientApplication {
    if (app) return app;
    const cred = loadCredential(config);
    agent = createAgent(config, { connections: 8 });
    const host = new URL(login).host;
    const msalConfig: Configuration = {
      auth: {
        clientId: config.microsoft.clientId!,
        authority: `${login}/${config.microsoft.partnerTenantId ?? 'organizations'}`,
        // Without knownAuthorities MSAL asks login.microsoftonline.com for instance discovery of any non-Microsoft host
        // (the simulator, a proxy) and throws untrusted_authority offline (m365-api.md §1.4).
        // https://learn.microsoft.com/entra/msal/javascript/node/configuration#authentication-configuration
        knownAuthorities: [host],
        ...(cred.clientCertificate ? { clientCertificate: cred.clientCertificate } : { clientSecret: cred.clientSecret! }),
      },
      system: {
        networkClient: networkClient(agent, memo, config.microsoft.timeoutMs),
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (level, message) => {
            if (level <= LogLevel.Warning) logger.debug({ msal: true }, message);
          },
        },
      },
    };
    app = new ConfidentialClientApplication(msalConfig);
    logger.debug({ credential: cred.kind }, 'msal client ready');
    return app;
  }

  async function fetchToken(tenantId: string, resource: TokenResource): Promise<string> {
    const cca = client();
    const authority = `${login}/${tenantId}`;
    stats.requests++;
    let result;
    try {
      result = await cca.acquireTokenByClientCredential({
        scopes: [scopeFor(config, resource)],
        // App-only tokens must be requested from the customer's tenant, never /common (AADSTS9001023).
        // https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#get-a-token
        authority,
        // We cache per tenant+resource ourselves and refresh before expiry; MSAL's cache would hand back the old token.
        skipCache: true,
      });
    } catch (e) {
      throw mapTokenError(e, { tenantId, resource, consentUrl: consentUrl(config, tenantId), memo, loginBase: login });
    } finally {
      // MSAL keeps every token it ever acquired in one in-memory cache and scans it on each request: with
      // thousands of tenants that is quadratic. We cache tokens ourselves (above), so keep MSAL's empty
      // (clearCache keeps the authority metadata, so MSAL still never calls discovery).
      cca.clearCache();
    }
    // A token endpoint answering 404 with {} makes MSAL resolve with an empty accessToken and no error (m365-api.md §1.4).
    if (!result || !result.accessToken) {
      throw new M365Error('TW_M365_TOKEN_FAILED', { reason: 'Microsoft returned no access token', resource }, { resource: 'login', tenantId, retryable: true });
    }
    const expiresAt = result.expiresOn ? result.expiresOn.getTime() : now() + 3_000_000;
    cache.set(`${tenantId}|${resource}`, { token: result.accessToken, expiresAt });
    logger.debug({ tenantId, resource, expiresAt: new Date(expiresAt).toISOString() }, 'token acquired');
    return result.accessToken;
  }

  return {
    stats,
    async getToken(tenantId, resource) {
      const key = `${tenantId}|${resource}`;
      const hit = cache.get(key);
      if (hit && hit.expiresAt - refreshBeforeMs > now()) {
        stats.cacheHits++;
        return hit.token;
      }
      const running = inflight.get(key);
      if (running) return running;
      const p = fetchToken(tenantId, resource).finally(() => inflight.delete(key));
      inflight.set(key, p);
      return p;
    },
    invalidate(tenantId, resource) {
      cache.delete(`${tenantId}|${resource}`);
    },
    async close() {
      await agent?.close();
      agent = undefined;
      app = undefined;
    },
  };
}

/**
 * The tenant GUID behind a verified domain, from the tenant's public OpenID metadata (no token needed): its issuer
 * is https://login.microsoftonline.com/{tenantId}/v2.0. An unknown domain answers 400 AADSTS90002.
 * https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#fetch-the-openid-configuration-document
 */
export async function resolveTenantIdByDomain(config: Pick<Config, 'microsoft'>, domain: string, agent?: Agent): Promise<string> {
  const login = baseUrlsOf(config).login;
  const own = agent ?? createAgent(config, { connections: 2 });
  const fail = (reason: string, upstreamCode?: string): never => {
    throw new M365Error('TW_M365_TENANT_NOT_FOUND', { tenantId: domain }, { resource: 'login', tenantId: domain, upstreamCode, upstreamMessage: reason, details: [reason] });
  };
  try {
    let res;
    try {
      res = await request(`${login}/${encodeURIComponent(domain)}/v2.0/.well-known/openid-configuration`, {
        method: 'GET',
        dispatcher: own,
        headersTimeout: config.microsoft.timeoutMs,
        bodyTimeout: config.microsoft.timeoutMs,
      });
    } catch (e) {
      throw new M365Error('TW_M365_UNREACHABLE', { host: new URL(login).host, attempts: 1, reason: (e as { code?: string }).code ?? 'network error' }, { resource: 'login', tenantId: domain, retryable: true });
    }
    const text = (await res.body.text()).slice(0, 100_000);
    let j: Record<string, unknown> = {};
    try {
      j = JSON.parse(text) as Record<string, unknown>;
    } catch {
      j = {};
    }
    if (res.statusCode >= 400) {
      const d = typeof j.error_description === 'string' ? j.error_description : `HTTP ${res.statusCode}`;
      return fail(shorten(d, 200), /AADSTS\d+/.exec(d)?.[0]);
    }
    const guid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
    for (const k of ['issuer', 'token_endpoint', 'authorization_endpoint']) {
      const v = j[k];
      const m = typeof v === 'string' ? guid.exec(v) : null;
      if (m) return m[0].toLowerCase();
    }
    return fail('the OpenID metadata names no tenant id');
  } finally {
    if (!agent) await own.close();
  }
}
