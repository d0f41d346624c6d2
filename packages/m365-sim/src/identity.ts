// Microsoft identity platform v2.0 for app-only tokens: OpenID metadata, JWKS, instance discovery and
// the token endpoint (client credentials by secret or by certificate assertion), with AADSTS errors in
// Microsoft's body. Tokens are v1.0 JWTs signed with RS256, verified synchronously by the resources.
// Follows learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow,
// certificate-credentials, reference-error-codes, access-token-claims-reference.
import { createHash, randomUUID, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify, constants } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SigningKey } from './tls.ts';
import type { Resource, SimTenant, TokenClaims } from './types.ts';
import type { World } from './world.ts';
import { stableGuid } from './world.ts';

export const RESOURCE_URLS: Record<Resource, string> = {
  management: 'https://manage.office.com',
  graph: 'https://graph.microsoft.com',
  exchange: 'https://outlook.office365.com',
};
/** Well-known application ids of the resources (accepted in `scope` and `aud` too). */
export const RESOURCE_APP_IDS: Record<Resource, string> = {
  management: 'c5393580-f805-4401-95e8-94b7a6ef2fc2',
  graph: '00000003-0000-0000-c000-000000000000',
  exchange: '00000002-0000-0ff1-ce00-000000000000',
};
const MANAGEMENT_ROLES = new Set(['ActivityFeed.Read', 'ActivityFeed.ReadDlp', 'ServiceHealth.Read']);
const EXCHANGE_ROLES = new Set(['Exchange.ManageAsApp', 'full_access_as_app', 'Mail.ReadWrite', 'MailboxSettings.ReadWrite.Exchange']);

/** Which of a tenant's consented app roles belong to a resource. */
export function rolesFor(resource: Resource, roles: readonly string[]): string[] {
  if (resource === 'management') return roles.filter((r) => MANAGEMENT_ROLES.has(r));
  if (resource === 'exchange') return roles.filter((r) => EXCHANGE_ROLES.has(r));
  return roles.filter((r) => !MANAGEMENT_ROLES.has(r) && !EXCHANGE_ROLES.has(r));
}

function resourceOf(value: string): Resource | undefined {
  const v = value.replace(/\/+$/, '').toLowerCase();
  for (const r of Object.keys(RESOURCE_URLS) as Resource[]) {
    if (v === RESOURCE_URLS[r] || v === RESOURCE_APP_IDS[r]) return r;
  }
  if (v === 'https://graph.microsoft.com/v1.0' || v === 'https://outlook.office.com') return v.includes('graph') ? 'graph' : 'exchange';
  return undefined;
}

const b64u = (v: Buffer | string) => Buffer.from(v).toString('base64url');

export function aadTimestamp(ms = Date.now()): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** Microsoft's error body for the token and metadata endpoints. */
export function sendAadError(reply: FastifyReply, req: FastifyRequest, status: number, error: string, code: number, description: string): FastifyReply {
  const trace = randomUUID();
  const corrHeader = req.headers['client-request-id'];
  const corr = typeof corrHeader === 'string' && /^[0-9a-f-]{36}$/i.test(corrHeader) ? corrHeader : randomUUID();
  const ts = aadTimestamp();
  return reply
    .code(status)
    .header('x-ms-request-id', trace)
    .header('client-request-id', corr)
    .header('cache-control', 'no-store, no-cache')
    .type('application/json; charset=utf-8')
    .send({
      error,
      error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${trace}\r\nCorrelation ID: ${corr}\r\nTimestamp: ${ts}`,
      error_codes: [code],
      timestamp: ts,
      trace_id: trace,
      correlation_id: corr,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    });
}

export type VerifyResult =
  | { ok: true; claims: TokenClaims & Record<string, unknown> }
  | { ok: false; reason: 'missing' | 'malformed' | 'signature' | 'expired' | 'audience' | 'tenant'; message: string; claims?: Record<string, unknown> };

export interface IdentityDeps {
  world: World;
  signing: SigningKey;
  tenant(idOrDomain: string): SimTenant | undefined;
  baseUrl(): string;
  /** Token lifetime in seconds (Microsoft: 3599 ± jitter). */
  tokenLifetime(): number;
  /** Real time for tokens and assertions (the simulated audit clock never moves tokens). */
  now?: () => number;
}

export interface Identity {
  register(app: FastifyInstance): void;
  verify(authorization: string | undefined, resource: Resource, tenantId?: string): VerifyResult;
  /** Signs an access token (also used by tests that need odd tokens through the control API). */
  issue(tenantId: string, resource: Resource, roles: string[] | undefined, appidacr: '1' | '2', lifetimeSec?: number): string;
}

const RESERVED = new Set(['common', 'organizations', 'consumers']);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/i;

export function createIdentity(deps: IdentityDeps): Identity {
  const { world, signing } = deps;
  const now = deps.now ?? Date.now;

  function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>): string {
    const data = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
    const sig = cryptoSign('sha256', Buffer.from(data), signing.privateKeyPem);
    return `${data}.${b64u(sig)}`;
  }

  function issue(tenantId: string, resource: Resource, roles: string[] | undefined, appidacr: '1' | '2', lifetimeSec = deps.tokenLifetime()): string {
    const iat = Math.floor(now() / 1000);
    const oid = stableGuid('sp', world.app.clientId, tenantId);
    const payload: Record<string, unknown> = {
      aud: RESOURCE_URLS[resource],
      iss: `https://sts.windows.net/${tenantId}/`,
      iat,
      nbf: iat,
      exp: iat + lifetimeSec,
      aio: b64u(randomUUID()),
      app_displayname: world.app.displayName,
      appid: world.app.clientId,
      appidacr,
      idp: `https://sts.windows.net/${tenantId}/`,
      idtyp: 'app',
      oid,
      rh: '0.' + b64u(randomUUID()) + '.',
      sub: oid,
      tid: tenantId,
      uti: b64u(randomUUID()).slice(0, 22),
      ver: '1.0',
    };
    if (roles && roles.length) payload.roles = roles;
    return signJwt({ typ: 'JWT', alg: 'RS256', x5t: signing.x5t, kid: signing.kid }, payload);
  }

  function verify(authorization: string | undefined, resource: Resource, tenantId?: string): VerifyResult {
    if (!authorization || !/^Bearer\s+\S/i.test(authorization)) return { ok: false, reason: 'missing', message: 'Access token is empty.' };
    const token = authorization.replace(/^Bearer\s+/i, '').trim();
    const parts = token.split('.');
    if (parts.length !== 3 || token.length > 16_384) return { ok: false, reason: 'malformed', message: 'JWT is not well formed.' };
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return { ok: false, reason: 'malformed', message: 'JWT is not well formed.' };
    }
    if (typeof header !== 'object' || header === null || typeof claims !== 'object' || claims === null) return { ok: false, reason: 'malformed', message: 'JWT is not well formed.' };
    const okSig = header.alg === 'RS256' && cryptoVerify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), signing.publicKey, Buffer.from(parts[2]!, 'base64url'));
    if (!okSig) return { ok: false, reason: 'signature', message: 'Signature validation failed.' };
    const t = Math.floor(now() / 1000);
    const exp = Number(claims.exp);
    const nbf = Number(claims.nbf ?? 0);
    if (!Number.isFinite(exp) || exp <= t || nbf > t + 300) return { ok: false, reason: 'expired', message: 'Lifetime validation failed, the token is expired.', claims };
    const aud = resourceOf(String(claims.aud ?? ''));
    if (aud !== resource) return { ok: false, reason: 'audience', message: `Invalid audience '${String(claims.aud)}'.`, claims };
    const tid = String(claims.tid ?? '');
    if (tenantId !== undefined && tid.toLowerCase() !== tenantId.toLowerCase()) return { ok: false, reason: 'tenant', message: `The token's tenant ${tid} does not match ${tenantId}.`, claims };
    const out = { ...claims, tid, aud: String(claims.aud), roles: Array.isArray(claims.roles) ? (claims.roles as string[]) : [], appid: String(claims.appid ?? ''), exp } as TokenClaims & Record<string, unknown>;
    return { ok: true, claims: out };
  }

  function metadata(base: string, tenantSegment: string, tid: string, v2: boolean): Record<string, unknown> {
    const root = `${base}/${tenantSegment}`;
    return {
      token_endpoint: v2 ? `${root}/oauth2/v2.0/token` : `${root}/oauth2/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: v2 ? `${base}/${tenantSegment}/discovery/v2.0/keys` : `${base}/common/discovery/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: v2 ? `${base}/${tid}/v2.0` : `https://sts.windows.net/${tid}/`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${base}/oidc/userinfo`,
      authorization_endpoint: v2 ? `${root}/oauth2/v2.0/authorize` : `${root}/oauth2/authorize`,
      device_authorization_endpoint: `${root}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: v2 ? `${root}/oauth2/v2.0/logout` : `${root}/oauth2/logout`,
      claims_supported: ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
      kerberos_endpoint: `${root}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
      rbac_url: 'https://pas.windows.net',
    };
  }

  /** Resolves the `{tenant}` path segment: the tenant, or sends AADSTS90002/900023. */
  function tenantFor(req: FastifyRequest, reply: FastifyReply, segment: string, metadataEndpoint: boolean): SimTenant | undefined {
    if (!GUID.test(segment) && !DOMAIN.test(segment)) {
      sendAadError(reply, req, 400, 'invalid_request', 900023, `Specified tenant identifier '${segment.slice(0, 100)}' is neither a valid DNS name, nor a valid external domain.`);
      return undefined;
    }
    const t = deps.tenant(segment);
    if (!t) {
      sendAadError(reply, req, 400, metadataEndpoint ? 'invalid_tenant' : 'invalid_request', 90002, `Tenant '${segment.slice(0, 100)}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`);
      return undefined;
    }
    return t;
  }

  function jwks() {
    return { keys: [{ kty: 'RSA', use: 'sig', kid: signing.kid, x5t: signing.x5t, n: signing.n, e: signing.e, x5c: [signing.certDerB64], cloud_instance_name: 'microsoftonline.com', issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0' }] };
  }

  function register(app: FastifyInstance): void {
    const openid = (v2: boolean) => async (req: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) => {
      const seg = req.params.tenant;
      const base = deps.baseUrl();
      if (RESERVED.has(seg.toLowerCase())) return metadata(base, seg, '{tenantid}', v2);
      const t = tenantFor(req, reply, seg, true);
      if (!t) return reply;
      return metadata(base, seg, t.id, v2);
    };
    app.get('/:tenant/v2.0/.well-known/openid-configuration', openid(true));
    app.get('/:tenant/.well-known/openid-configuration', openid(false));
    app.get('/:tenant/discovery/v2.0/keys', async () => jwks());
    app.get('/:tenant/discovery/keys', async () => jwks());

    // MSAL instance discovery (learn.microsoft.com/entra/msal/dotnet/advanced/custom-authority-aliases).
    app.get('/common/discovery/instance', async (req: FastifyRequest<{ Querystring: Record<string, string> }>, reply) => {
      const base = deps.baseUrl();
      const host = new URL(base).host;
      const auth = req.query.authorization_endpoint;
      let authHost: string | undefined;
      try {
        authHost = auth ? new URL(auth).host : undefined;
      } catch {
        authHost = undefined;
      }
      if (!authHost || (authHost !== host && authHost !== 'login.microsoftonline.com')) {
        return sendAadError(reply, req, 400, 'invalid_instance', 50049, "Unknown or invalid instance.");
      }
      return {
        tenant_discovery_endpoint: `${base}/{tenant}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      };
    });

    const tokenHandler = (v1: boolean) => async (req: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) => {
      const body = { ...((req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, string | undefined>) };
      // client_secret_basic (advertised in the metadata; RFC 6749 §2.3.1): HTTP Basic with the
      // form-urlencoded client id and secret, as OAuth libraries such as oauthlib/authlib send by default.
      const basic = /^Basic\s+([A-Za-z0-9+/=]{1,4096})$/i.exec(String(req.headers.authorization ?? ''));
      if (basic && body.client_secret === undefined && body.client_assertion === undefined) {
        const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) {
          const dec = (v: string) => {
            try {
              return decodeURIComponent(v.replace(/\+/g, ' '));
            } catch {
              return v;
            }
          };
          body.client_id ??= dec(decoded.slice(0, colon));
          body.client_secret = dec(decoded.slice(colon + 1));
        }
      }
      const seg = req.params.tenant;
      (req as { simResource?: string }).simResource = v1 ? body.resource : body.scope;
      if (!String(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
        return sendAadError(reply, req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
      }
      if (RESERVED.has(seg.toLowerCase())) {
        return sendAadError(reply, req, 400, 'invalid_request', 9001023, 'The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.');
      }
      const tenant = tenantFor(req, reply, seg, false);
      if (!tenant) return reply;
      const grant = body.grant_type;
      if (!grant) return sendAadError(reply, req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
      if (grant !== 'client_credentials') return sendAadError(reply, req, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant.slice(0, 60)}'.`);
      const clientId = (body.client_id ?? '').toLowerCase();
      if (!clientId) return sendAadError(reply, req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
      const isPartner = tenant.id === world.partner.tenantId;
      if (clientId !== world.app.clientId || (!isPartner && !tenant.consented)) {
        return sendAadError(reply, req, 400, 'unauthorized_client', 700016, `Application with identifier '${clientId.slice(0, 60)}' was not found in the directory '${tenant.name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
      }
      // Scope (v2) or resource (v1).
      let resource: Resource | undefined;
      if (v1) {
        if (!body.resource) return sendAadError(reply, req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'resource'.");
        resource = resourceOf(body.resource);
        if (!resource) return sendAadError(reply, req, 400, 'invalid_resource', 500011, `The resource principal named ${body.resource.slice(0, 100)} was not found in the tenant named ${tenant.name}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`);
      } else {
        const scope = (body.scope ?? '').trim();
        if (!scope) return sendAadError(reply, req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
        const scopes = scope.split(/\s+/).filter((s) => !['openid', 'profile', 'offline_access', 'email'].includes(s));
        const resources = new Set<string>();
        for (const s of scopes) {
          // The answer Entra gives (seen in public bug reports, e.g. through msal4j) for a permission scope.
          if (!s.endsWith('/.default')) return sendAadError(reply, req, 400, 'invalid_scope', 1002012, `The provided value for scope ${scope.slice(0, 200)} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
          resources.add(s.slice(0, -'/.default'.length).replace(/\/+$/, '').toLowerCase());
        }
        if (resources.size === 0) return sendAadError(reply, req, 400, 'invalid_scope', 70011, `The provided value for the input parameter 'scope' is not valid. The scope ${scope.slice(0, 200)} is not valid.`);
        if (resources.size > 1) return sendAadError(reply, req, 400, 'invalid_scope', 700022, `The provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope.slice(0, 200)} is not valid.`);
        const only = [...resources][0]!;
        resource = resourceOf(only);
        if (!resource) return sendAadError(reply, req, 400, 'invalid_resource', 500011, `The resource principal named ${only.slice(0, 100)} was not found in the tenant named ${tenant.name}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`);
      }
      // Credentials.
      let appidacr: '1' | '2';
      if (body.client_assertion !== undefined || body.client_assertion_type !== undefined) {
        if (body.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
          return sendAadError(reply, req, 400, 'invalid_request', 700023, "Client assertion audience claim does not match Realm issuer. The 'client_assertion_type' must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.");
        }
        const problem = checkAssertion(body.client_assertion ?? '', clientId, seg, tenant.id);
        if (problem) return sendAadError(reply, req, problem.status, problem.error, problem.code, problem.message);
        appidacr = '2';
      } else if (body.client_secret !== undefined) {
        const expected = world.app.clientSecret;
        const given = Buffer.from(body.client_secret);
        const ok = expected !== undefined && given.length === Buffer.byteLength(expected) && timingSafeEqual(given, Buffer.from(expected));
        if (!ok) return sendAadError(reply, req, 401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${world.app.clientId}'.`);
        if (world.app.clientSecretExpiresAt !== undefined && world.app.clientSecretExpiresAt <= now()) {
          return sendAadError(reply, req, 401, 'invalid_client', 7000222, `The provided client secret keys for app '${world.app.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`);
        }
        appidacr = '1';
      } else {
        return sendAadError(reply, req, 401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
      }
      const roles = rolesFor(resource, isPartner ? [...new Set([...tenant.roles, 'ActivityFeed.Read', 'DelegatedAdminRelationship.Read.All', 'Directory.Read.All'])] : tenant.roles);
      const lifetime = deps.tokenLifetime();
      const accessToken = issue(tenant.id, resource, roles, appidacr, lifetime);
      reply.header('cache-control', 'no-store, no-cache').header('x-ms-request-id', randomUUID());
      if (v1) {
        const t = Math.floor(now() / 1000);
        return { token_type: 'Bearer', expires_in: String(lifetime), ext_expires_in: String(lifetime), expires_on: String(t + lifetime), not_before: String(t), resource: RESOURCE_URLS[resource], access_token: accessToken };
      }
      return { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken };
    };
    app.post('/:tenant/oauth2/v2.0/token', tokenHandler(false));
    app.post('/:tenant/oauth2/token', tokenHandler(true));
  }

  function checkAssertion(assertion: string, clientId: string, segment: string, tenantId: string): { status: number; error: string; code: number; message: string } | undefined {
    const bad = (code: number, message: string) => ({ status: 401, error: 'invalid_client', code, message });
    const parts = assertion.split('.');
    if (parts.length !== 3 || assertion.length > 32_768) return { status: 400, error: 'invalid_request', code: 50027, message: 'JWT token is invalid or malformed.' };
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      if (!header || typeof header !== 'object' || !claims || typeof claims !== 'object') throw new Error('not objects');
    } catch {
      return { status: 400, error: 'invalid_request', code: 50027, message: 'JWT token is invalid or malformed.' };
    }
    const x5t = typeof header.x5t === 'string' ? header.x5t : undefined;
    const x5tS256 = typeof header['x5t#S256'] === 'string' ? (header['x5t#S256'] as string) : undefined;
    const cert = world.app.certificates.find((c) => (x5tS256 && createHash('sha256').update(c.raw).digest('base64url') === x5tS256.replace(/=+$/, '')) || (x5t && createHash('sha1').update(c.raw).digest('base64url') === x5t.replace(/=+$/, '')));
    if (!cert) {
      return bad(700027, `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${(x5tS256 ?? x5t ?? '').slice(0, 64)}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${world.app.clientId}'.]`);
    }
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const sig = Buffer.from(parts[2]!, 'base64url');
    let valid = false;
    try {
      if (header.alg === 'RS256') valid = cryptoVerify('sha256', data, cert.publicKey, sig);
      else if (header.alg === 'PS256') valid = cryptoVerify('sha256', data, { key: cert.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, sig);
    } catch {
      valid = false;
    }
    if (!valid) return bad(700027, 'Client assertion failed signature validation.');
    const iss = String(claims.iss ?? '').toLowerCase();
    const sub = String(claims.sub ?? '').toLowerCase();
    if (iss !== clientId || sub !== clientId) return bad(700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .");
    const base = deps.baseUrl();
    const auds = new Set([`${base}/${segment}/oauth2/v2.0/token`, `${base}/${tenantId}/oauth2/v2.0/token`, `${base}/${segment}/oauth2/token`, `${base}/${tenantId}/oauth2/token`, `${base}/${tenantId}/v2.0`].map((a) => a.toLowerCase()));
    const audClaim = Array.isArray(claims.aud) ? (claims.aud as unknown[]).map(String) : [String(claims.aud ?? '')];
    if (!audClaim.some((a) => auds.has(a.toLowerCase()))) return bad(700027, `Client assertion contains an invalid audience: '${audClaim.join(',').slice(0, 200)}'.`);
    const t = Math.floor(now() / 1000);
    const exp = Number(claims.exp);
    const nbf = claims.nbf === undefined ? undefined : Number(claims.nbf);
    const skew = 300;
    if (!Number.isFinite(exp) || exp + skew < t || (nbf !== undefined && (!Number.isFinite(nbf) || nbf - skew > t))) {
      const iso = (s: number) => (Number.isFinite(s) ? new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, ' +00:00').replace('T', ' ') : 'invalid');
      return bad(700024, `Client assertion is not within its valid time range. Current time: ${iso(t)}, assertion valid from ${nbf === undefined ? 'unspecified' : iso(nbf)}, expiry time of assertion ${iso(exp)}. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .`);
    }
    return undefined;
  }

  return { register, verify, issue };
}
