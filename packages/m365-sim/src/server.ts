// The simulator's HTTP(S) server: one origin serving Microsoft's own paths (identity, Management
// Activity API, Graph, Exchange admin API) plus /_sim/ control; faults, the request log, error shapes.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createAuditLog, type AuditLog } from './audit-log.ts';
import { createRequestLog, registerControl, type RequestLog } from './control.ts';
import { createFaults, type Fault, type Faults } from './faults.ts';
import { createIdentity, sendAadError, type Identity, type VerifyResult } from './identity.ts';
import { afError, expireWebhook, registerManagement } from './management.ts';
import { tlsMaterial } from './tls.ts';
import type { DirectoryModule, Resource, SimContext, TokenClaims } from './types.ts';
import { createWebhooks, type Webhooks } from './webhooks.ts';
import { DEFAULT_QUIRKS, TenantRegistry, type Quirks, type World } from './world.ts';

export interface SimServerOptions {
  world: World;
  directory: DirectoryModule;
  port?: number;
  host?: string;
  /** Plain HTTP instead of HTTPS. */
  http?: boolean;
  /** Seconds before appended records become listable content (default 3). */
  latencySeconds?: number;
}

export interface SimServer {
  url: string;
  caPath: string | null;
  ca: string | null;
  app: FastifyInstance;
  ctx: SimContext;
  tenants: TenantRegistry;
  audit: AuditLog;
  faults: Faults;
  requests: RequestLog;
  identity: Identity;
  close(): Promise<void>;
}

type Kind = 'identity' | 'management' | 'graph' | 'exchange' | 'control' | 'other';

export function kindOf(url: string): Kind {
  if (url.startsWith('/_sim/') || url === '/_sim') return 'control';
  if (/^\/api\/v1(\.0)?\//.test(url)) return 'management';
  if (/^\/(v1\.0|beta)(\/|$|\?)/.test(url)) return 'graph';
  if (url.startsWith('/adminapi/')) return 'exchange';
  if (/^\/[^/?]+\/(oauth2|v2\.0|\.well-known|discovery)(\/|$|\?)/.test(url) || url.startsWith('/common/')) return 'identity';
  return 'other';
}

/** `/api/v1.0/{t}/activity/feed//subscriptions/...` → single slashes in the path (query untouched). */
export function collapseFeedSlashes(url: string): string {
  if (!url.startsWith('/api/')) return url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (!path.includes('//')) return url;
  return path.replace(/\/{2,}/g, '/') + (q === -1 ? '' : url.slice(q));
}

function tidOfToken(auth: string | undefined): string | undefined {
  if (!auth) return undefined;
  const parts = auth.replace(/^Bearer\s+/i, '').split('.');
  if (parts.length !== 3 || parts[1]!.length > 8192) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { tid?: unknown };
    return typeof claims.tid === 'string' ? claims.tid.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

function tenantSegment(url: string): string | undefined {
  const m =
    /^\/api\/v1(?:\.0)?\/([^/?]+)/.exec(url) ??
    /^\/adminapi\/[^/?]+\/([^/?]+)/.exec(url) ??
    /^\/_sim\/tenants\/([^/?]+)/.exec(url) ??
    /^\/([^/?]+)\/(?:oauth2|v2\.0|\.well-known|discovery)/.exec(url);
  return m ? decodeURIComponent(m[1]!).toLowerCase() : undefined;
}

function graphError(reply: FastifyReply, req: FastifyRequest, status: number, code: string, message: string): FastifyReply {
  const requestId = randomUUID();
  const crid = typeof req.headers['client-request-id'] === 'string' ? req.headers['client-request-id'] : requestId;
  return reply
    .code(status)
    .header('request-id', requestId)
    .header('client-request-id', crid)
    .type('application/json; charset=utf-8')
    .send({ error: { code, message, innerError: { date: new Date().toISOString().replace(/\.\d{3}Z$/, ''), 'request-id': requestId, 'client-request-id': crid } } });
}

function exchangeError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error: { code, message } });
}

/** The error a resource gives for a status when a fault names none. */
function defaultFaultBody(kind: Kind, status: number, publisher: string): unknown {
  const throttled = status === 429;
  switch (kind) {
    case 'management':
      if (throttled || status === 403) return { error: { code: 'AF429', message: `Too many requests. Method=Fault, PublisherId=${publisher}` } };
      if (status >= 500) return { error: { code: 'AF50000', message: 'An internal error occurred. Retry the request.' } };
      return { error: { code: `AF${status}`, message: 'Injected fault.' } };
    case 'graph':
    case 'exchange': {
      const code = throttled ? 'TooManyRequests' : status === 503 ? 'ServiceUnavailable' : status >= 500 ? 'InternalServerError' : status === 401 ? 'InvalidAuthenticationToken' : status === 403 ? 'Authorization_RequestDenied' : 'BadRequest';
      const message = throttled ? 'Too many requests. Please try again later.' : status === 503 ? 'The service is temporarily unavailable. Please try again later.' : 'Injected fault.';
      const id = randomUUID();
      return { error: { code, message, ...(kind === 'graph' ? { innerError: { date: new Date().toISOString().replace(/\.\d{3}Z$/, ''), 'request-id': id, 'client-request-id': id } } : {}) } };
    }
    case 'identity': {
      const id = randomUUID();
      const ts = new Date().toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
      const code = throttled ? 50196 : 90033;
      const desc = throttled ? 'The server terminated an operation because it encountered a client request loop.' : 'A transient error has occurred. Please try again.';
      return { error: throttled ? 'invalid_grant' : 'temporarily_unavailable', error_description: `AADSTS${code}: ${desc}\r\nTrace ID: ${id}\r\nCorrelation ID: ${id}\r\nTimestamp: ${ts}`, error_codes: [code], timestamp: ts, trace_id: id, correlation_id: id, error_uri: `https://login.microsoftonline.com/error?code=${code}` };
    }
    default:
      return { error: `injected fault: HTTP ${status}` };
  }
}

interface SimRequestState {
  start: number;
  kind: Kind;
  tenant?: string;
  fault?: Fault;
  logged?: boolean;
}
const STATE = Symbol('sim');
type WithState = FastifyRequest & { [STATE]?: SimRequestState; simResource?: string; simPublisher?: string };

export async function createSimServer(opts: SimServerOptions): Promise<SimServer> {
  const { world, directory } = opts;
  const material = opts.http ? undefined : await tlsMaterial();
  const signing = material ? material.signing : (await tlsMaterial()).signing;
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024 * 1024,
    routerOptions: { maxParamLength: 2000 },
    // Microsoft's own troubleshooting script posts to `.../activity/feed//subscriptions/start`: empty path
    // segments under the Management Activity API root are collapsed before routing.
    rewriteUrl: (req: { url?: string }) => collapseFeedSlashes(req.url ?? '/'),
    forceCloseConnections: true,
    ...(material ? { https: { key: material.tls.keyPem, cert: material.tls.certPem } } : {}),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  let clockOffset = 0;
  let latencySeconds = opts.latencySeconds ?? 3;
  let quirks: Quirks = { ...DEFAULT_QUIRKS, ...world.quirks };
  let tokenLifetime = 3599;
  let baseUrl = '';
  const now = () => Date.now() + clockOffset;

  const tenants = new TenantRegistry(world, directory);
  const faults = createFaults();
  const requests = createRequestLog();
  const audit = createAuditLog({ world, tenants, now, latencyMs: () => latencySeconds * 1000, quirks: () => quirks });
  const identity = createIdentity({ world, signing, tenant: (id) => tenants.get(id), baseUrl: () => baseUrl, tokenLifetime: () => tokenLifetime });

  const verifyToken = (req: FastifyRequest, resource: Resource, tenantId?: string): VerifyResult => identity.verify(req.headers.authorization, resource, tenantId);
  const ctx: SimContext = {
    tenant: (idOrDomain) => tenants.get(idOrDomain),
    listTenants: () => tenants.list(),
    partner: world.partner,
    app: { clientId: world.app.clientId },
    audit,
    now,
    baseUrl: () => baseUrl,
    verifyToken,
    requireToken(req, reply, resource, tenantId, onError) {
      const v = verifyToken(req, resource, tenantId);
      let failure: { status: number; code: string; message: string } | undefined;
      if (!v.ok) failure = { status: 401, code: 'InvalidAuthenticationToken', message: v.reason === 'missing' ? 'Access token is empty.' : v.reason === 'expired' ? 'Lifetime validation failed, the token is expired.' : v.reason === 'audience' ? 'Access token validation failure. Invalid audience.' : v.reason === 'tenant' ? 'Access token validation failure. The token was issued for another tenant.' : 'Access token validation failure.' };
      else if (resource !== 'management' && v.claims.roles.length === 0) failure = { status: 401, code: 'InvalidAuthenticationToken', message: 'Either scp or roles claim need to be present in the token.' };
      if (!failure) return (v as { claims: TokenClaims }).claims;
      if (onError) {
        onError(failure.status, failure.code, failure.message);
        return undefined;
      }
      if (resource === 'graph') graphError(reply, req, failure.status, failure.code, failure.message);
      else if (resource === 'exchange') {
        reply
          .code(401)
          .header('www-authenticate', 'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000001-0000-0000-c000-000000000000@*", token_types="app_asserted_user_v1 service_asserted_app_v1", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="invalid_token"')
          .header('x-ms-diagnostics', `2000001;reason="${failure.message.replace(/"/g, "'")}";error_category="invalid_token"`)
          .send('');
      } else afError(reply, 401, 'AF10001', '');
      return undefined;
    },
  };

  tenants.onMaterialise = (tenant, entry) => {
    for (const ct of entry.subscriptions ?? []) tenant.subscriptions.set(ct, { contentType: ct, status: 'enabled', webhook: null, createdAt: now() - 7 * 24 * 3600_000 });
  };

  const webhooks: Webhooks = createWebhooks({
    now,
    attempts: () => quirks.webhookAttempts,
    retryBaseMs: () => quirks.webhookRetryBaseMs,
    contentUri: (tid, cid) => `${baseUrl}/api/v1.0/${tid}/activity/feed/audit/${cid}`,
    clientId: world.app.clientId,
    disableAfter: () => quirks.webhookDisableAfterFailures,
    disable: (tid, ct) => {
      const sub = tenants.get(tid)?.subscriptions.get(ct);
      if (sub?.webhook) sub.webhook.status = 'disabled';
    },
    target: (tid, ct) => {
      const sub = tenants.get(tid)?.subscriptions.get(ct);
      if (sub) expireWebhook(sub, now());
      return sub && sub.status === 'enabled' && sub.webhook && sub.webhook.status === 'enabled' ? { address: sub.webhook.address, authId: sub.webhook.authId } : null;
    },
  });
  audit.onBlob((b) => webhooks.blobCreated(b));

  // Bodies: forms for the token endpoint; JSON (empty allowed) elsewhere; anything else as text.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (req, body, done) => {
    // PowerShell's Invoke-RestMethod labels a string body form-urlencoded unless told otherwise; Microsoft's
    // own troubleshooting script posts the JSON webhook body that way. Under the Management API a body that
    // is a JSON object is read as JSON.
    const text = body as string;
    if (kindOf(req.url) === 'management' && text.trimStart().startsWith('{')) {
      try {
        return done(null, JSON.parse(text));
      } catch {
        const err = new Error('malformed JSON body') as Error & { statusCode: number; code: string };
        err.statusCode = 400;
        err.code = 'SIM_BAD_JSON';
        return done(err, undefined);
      }
    }
    done(null, Object.fromEntries(new URLSearchParams(text)));
  });
  app.addContentTypeParser(['application/json', 'text/json'], { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      const err = new Error('malformed JSON body') as Error & { statusCode: number; code: string };
      err.statusCode = 400;
      err.code = 'SIM_BAD_JSON';
      done(err, undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(null, text);
    }
  });

  const stateOf = (req: FastifyRequest) => (req as WithState)[STATE]!;

  function log(req: FastifyRequest, status: number | null, faultNote?: string) {
    const s = stateOf(req);
    if (!s || s.logged) return;
    s.logged = true;
    const w = req as WithState;
    requests.add({
      time: new Date().toISOString(),
      method: req.method,
      path: req.url,
      tenant: s.tenant ?? null,
      status,
      ...(w.simResource ? { resource: String(w.simResource).slice(0, 300) } : {}),
      ...(w.simPublisher ? { publisher: w.simPublisher } : {}),
      ...(faultNote ?? s.fault ? { fault: faultNote ?? s.fault!.id } : {}),
      durationMs: Date.now() - s.start,
    });
  }

  app.addHook('onRequest', async (req, reply) => {
    const url = req.url;
    const kind = kindOf(url);
    let tenant = tenantSegment(url);
    if (kind === 'graph') tenant = tidOfToken(req.headers.authorization);
    if (tenant && !/^[0-9a-f-]{36}$/.test(tenant) && kind !== 'control') {
      const t = tenant === 'common' || tenant === 'organizations' ? undefined : tenants.get(tenant);
      if (t) tenant = t.id;
    }
    const state: SimRequestState = { start: Date.now(), kind, tenant };
    (req as WithState)[STATE] = state;
    if (kind === 'control') return;
    const f = faults.take(req.method, url, tenant);
    if (!f) return;
    state.fault = f;
    if (f.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
    if (f.dropConnection) {
      log(req, null, `${f.id}:dropConnection`);
      reply.hijack();
      req.raw.socket.destroy();
      return;
    }
    if (f.status) {
      if (f.retryAfter !== undefined) reply.header('Retry-After', String(f.retryAfter));
      const pub = (() => {
        const m = /[?&]PublisherIdentifier=([0-9a-fA-F-]{36})/i.exec(url);
        return m ? m[1]!.toLowerCase() : '00000000-0000-0000-0000-000000000000';
      })();
      const body = f.body !== undefined ? f.body : defaultFaultBody(kind, f.status, pub);
      reply.code(f.status);
      if (typeof body === 'string') reply.type('text/plain; charset=utf-8');
      else reply.type('application/json; charset=utf-8');
      return reply.send(typeof body === 'string' ? body : JSON.stringify(body));
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const f = stateOf(req)?.fault;
    if (!f || (!f.truncateBody && !f.malformedJson) || f.status) return payload;
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : payload === null || payload === undefined ? '' : String(payload);
    if (f.malformedJson) return text.length > 1 ? `${text.slice(0, -1)},{"Id":` : '[{"Id":';
    // truncateBody: announce the whole length, send half, then cut the connection.
    const full = Buffer.from(text, 'utf8');
    const half = full.subarray(0, Math.max(1, Math.floor(full.length / 2)));
    log(req, reply.statusCode, `${f.id}:truncateBody`);
    reply.header('content-length', String(full.length));
    const stream = new Readable({ read() {} });
    stream.push(half);
    setTimeout(() => stream.destroy(new Error('body truncated by an injected fault')), 20).unref();
    return stream;
  });

  app.addHook('onResponse', async (req, reply) => {
    log(req, reply.statusCode);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const kind = stateOf(req)?.kind ?? kindOf(req.url);
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) process.stderr.write(`m365-sim: internal error on ${req.method} ${req.url.split('?')[0]}: ${err.message}\n`);
    const badJson = err.code === 'SIM_BAD_JSON' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY';
    const tooBig = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE';
    switch (kind) {
      case 'management':
        if (status === 500) return afError(reply, 500, 'AF50000');
        return afError(reply, status, 'AF20002', 'body', 'JSON');
      case 'graph':
        if (status === 500) return graphError(reply, req, 500, 'generalException', 'An unexpected error occurred.');
        return graphError(reply, req, status, 'BadRequest', badJson ? 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.' : tooBig ? 'The request payload is too large.' : 'Invalid request.');
      case 'exchange':
        if (status === 500) return exchangeError(reply, 500, 'InternalServerError', 'An internal server error occurred. The operation failed.');
        return exchangeError(reply, status, 'BadRequest', badJson ? 'The request body is not valid JSON.' : 'Invalid request.');
      case 'identity':
        if (status === 500) return sendAadError(reply, req, 500, 'server_error', 90033, 'A transient error has occurred. Please try again.');
        return sendAadError(reply, req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
      default:
        return reply.code(status).send({ error: status === 500 ? 'internal error' : badJson ? 'malformed JSON body' : err.message.slice(0, 300) });
    }
  });

  app.setNotFoundHandler((req, reply) => {
    const kind = kindOf(req.url);
    const path = req.url.split('?')[0]!;
    switch (kind) {
      case 'management':
        return reply.code(404).send({ error: { code: 'AF20001', message: `No HTTP resource was found that matches the request URI '${path.slice(0, 300)}'.` } });
      case 'graph': {
        const seg = path.split('/').filter(Boolean).pop() ?? '';
        return graphError(reply, req, 400, 'BadRequest', `Resource not found for the segment '${seg.slice(0, 100)}'.`);
      }
      case 'exchange':
        return exchangeError(reply, 404, 'NotFound', `The resource '${path.slice(0, 300)}' was not found.`);
      case 'identity':
        return reply.code(404).send('');
      default:
        return reply.code(404).send({ error: `no such endpoint: ${req.method} ${path.slice(0, 300)}` });
    }
  });

  identity.register(app);
  registerManagement(app, { tenant: (id) => tenants.get(id), identity, audit, webhooks, now, quirks: () => quirks, baseUrl: () => baseUrl, clientId: world.app.clientId });
  registerControl(app, {
    ctx,
    directory,
    audit,
    faults,
    requests,
    webhooks,
    identity,
    quirks: () => quirks,
    setQuirks: (q) => {
      quirks = { ...quirks, ...Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined)) };
    },
    latencySeconds: () => latencySeconds,
    setLatencySeconds: (s) => {
      latencySeconds = s;
    },
    advanceClock: (ms) => {
      clockOffset += ms;
      return now();
    },
    tokenLifetime: () => tokenLifetime,
    setTokenLifetime: (s) => {
      tokenLifetime = s;
    },
  });
  await app.register(async (child) => {
    directory.registerGraph(child, ctx);
  });
  await app.register(async (child) => {
    directory.registerExchange(child, ctx);
  });

  tenants.materialiseExplicit();
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port ?? 0;
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  baseUrl = `${opts.http ? 'http' : 'https'}://${urlHost}:${port}`;

  return {
    url: baseUrl,
    caPath: material?.tls.caPath ?? null,
    ca: material?.tls.caPem ?? null,
    app,
    ctx,
    tenants,
    audit,
    faults,
    requests,
    identity,
    async close() {
      await webhooks.close();
      await app.close();
    },
  };
}
