// Office 365 Management Activity API (learn.microsoft.com/office/office-365-management-api/
// office-365-management-activity-api-reference): subscriptions, webhooks, content listing with the
// window rules and NextPageUri paging, content blobs with expiry, notifications, throttling per tenant
// per publisher (AF429 as HTTP 403), and Microsoft's {"error":{"code","message"}} bodies.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog, Blob } from './audit-log.ts';
import { RETENTION_MS } from './audit-log.ts';
import type { Identity } from './identity.ts';
import type { ContentType, SimSubscription, SimTenant } from './types.ts';
import type { Webhooks } from './webhooks.ts';
import { webhookAddressProblem } from './webhooks.ts';
import { CONTENT_TYPES, type Quirks } from './world.ts';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ZERO_GUID = '00000000-0000-0000-0000-000000000000';
const DAY = 24 * 3600_000;

export const AF_MESSAGES: Record<string, string> = {
  AF10001: 'The permission set ({0}) sent in the request did not include the expected permission ActivityFeed.Read.',
  AF20001: 'Missing parameter: {0}.',
  AF20002: 'Invalid parameter type: {0}. Expected type: {1}',
  AF20003: 'Expiration {0} provided is set to past date and time.',
  AF20010: 'The tenant ID passed in the URL ({0}) does not match the tenant ID passed in the access token ({1}).',
  AF20011: 'Specified tenant ID ({0}) does not exist in the system or has been deleted.',
  AF20013: 'The tenant ID passed in the URL ({0}) is not a valid GUID.',
  AF20020: 'The specified content type is not valid.',
  AF20021: 'The webhook endpoint {{0}) could not be validated. {1}',
  AF20022: 'No subscription found for the specified content type.',
  AF20023: 'The subscription was disabled by {0}.',
  AF20024: 'The subscription is already enabled. No property change.',
  AF20030: 'Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.',
  AF20031: 'Invalid nextPage Input: {0}.',
  AF20050: 'The specified content ({0}) does not exist.',
  AF20051: 'Content requested with the key {0} has already expired. Content older than 7 days cannot be retrieved.',
  AF20052: 'Content ID {0} in the URL is invalid.',
  AF20053: 'Only one language may be present in the Accept-Language header.',
  AF20054: 'Invalid syntax in Accept-Language header.',
  AF20055: 'Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time prior to end time and start time no more than 7 days in the past.',
  AF429: 'Too many requests. Method={0}, PublisherId={1}',
  AF50000: 'An internal error occurred. Retry the request.',
};

function fill(template: string, args: string[]): string {
  return template.replace(/\{(\d)\}/g, (_, i: string) => args[Number(i)] ?? '');
}

export function afError(reply: FastifyReply, status: number, code: string, ...args: string[]): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error: { code, message: fill(AF_MESSAGES[code] ?? code, args.map((a) => a.slice(0, 300))) } });
}

/** Parses startTime/endTime in the documented formats (plus a trailing Z); undefined when invalid. */
export function parseApiTime(v: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?(Z|[+-]00:?00)?$/.exec(v);
  if (!m) return undefined;
  const [y, mo, d, h = '0', mi = '0', s = '0', frac = '0'] = m.slice(1, 8).map((x) => x ?? undefined) as string[];
  const ms = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +s, Math.floor(Number(`0.${frac}`) * 1000));
  const back = new Date(ms);
  if (back.getUTCFullYear() !== +y! || back.getUTCMonth() !== +mo! - 1 || back.getUTCDate() !== +d! || +h > 23 || +mi > 59 || +s > 59) return undefined;
  return ms;
}

/** A time in the reference's `YYYY-MM-DDTHH:MM:SS` form (UTC). */
export function apiTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

export interface ManagementDeps {
  tenant(id: string): SimTenant | undefined;
  identity: Identity;
  audit: AuditLog;
  webhooks: Webhooks;
  now(): number;
  quirks(): Quirks;
  baseUrl(): string;
  clientId: string;
}

type Req = FastifyRequest<{ Params: { tenant: string; contentId?: string }; Querystring: Record<string, string | string[] | undefined> }>;

function q(req: Req, name: string): string | undefined {
  const entry = Object.entries(req.query ?? {}).find(([k]) => k.toLowerCase() === name.toLowerCase());
  const v = entry?.[1];
  return Array.isArray(v) ? v[0] : v;
}

/** A webhook past its `expiration` shows `expired` and gets no notifications (start with a later or null expiration re-enables it). */
export function expireWebhook(s: SimSubscription, nowMs: number): void {
  const w = s.webhook;
  if (w && w.status === 'enabled' && w.expiration !== null && Date.parse(w.expiration) <= nowMs) w.status = 'expired';
}

function subscriptionView(s: SimSubscription) {
  return {
    contentType: s.contentType,
    status: s.status,
    webhook: s.webhook ? { status: s.webhook.status, address: s.webhook.address, authId: s.webhook.authId, expiration: s.webhook.expiration } : null,
  };
}

export function registerManagement(app: FastifyInstance, deps: ManagementDeps): void {
  const throttle = new Map<string, { windowStart: number; count: number }>();

  function contentUri(tenantId: string, contentId: string): string {
    return `${deps.baseUrl()}/api/v1.0/${tenantId}/activity/feed/audit/${contentId}`;
  }

  /** Common checks; returns the tenant and publisher or sends the error. */
  function gate(req: Req, reply: FastifyReply, method: string, contentType?: string): { tenant: SimTenant; publisher: string } | undefined {
    const seg = req.params.tenant;
    if (!GUID.test(seg)) {
      afError(reply, 400, 'AF20013', seg);
      return undefined;
    }
    const tenantId = seg.toLowerCase();
    const v = deps.identity.verify(req.headers.authorization, 'management');
    if (!v.ok) {
      reply.header('www-authenticate', 'Bearer realm="", error="invalid_token"');
      afError(reply, 401, 'AF10001', '');
      return undefined;
    }
    if (v.claims.tid.toLowerCase() !== tenantId) {
      afError(reply, 401, 'AF20010', seg, v.claims.tid);
      return undefined;
    }
    if (!v.claims.roles.includes('ActivityFeed.Read') && !v.claims.roles.includes('ActivityFeed.ReadDlp')) {
      afError(reply, 401, 'AF10001', v.claims.roles.join(','));
      return undefined;
    }
    const tenant = deps.tenant(tenantId);
    if (!tenant) {
      afError(reply, 400, 'AF20011', seg);
      return undefined;
    }
    const pubRaw = q(req, 'PublisherIdentifier');
    const publisher = pubRaw && GUID.test(pubRaw) ? pubRaw.toLowerCase() : ZERO_GUID;
    (req as { simPublisher?: string }).simPublisher = publisher;
    const now = Date.now();
    const key = `${tenant.id}|${publisher}`;
    let t = throttle.get(key);
    if (!t || now - t.windowStart >= 60_000) throttle.set(key, (t = { windowStart: now, count: 0 }));
    t.count++;
    if (t.count > deps.quirks().throttlePerMinute) {
      afError(reply, 403, 'AF429', method, publisher);
      return undefined;
    }
    if (!tenant.auditLogEnabled || tenant.auditLogEffectiveAt > deps.now()) {
      const corr = randomUUID();
      const full = `${method} [CorrId=${corr}][TenantId=${tenant.id},ContentType=${contentType ?? ''},ApplicationId=${deps.clientId},PublisherId=${publisher}][AppId=${deps.clientId}] failed. Exception: Microsoft.Office.Compliance.Audit.DataServiceException: Tenant ${tenant.id} does not exist.`;
      const cut = full.indexOf('[AppId=') + '[AppId'.length;
      reply.code(400).type('application/json; charset=utf-8').send({ error: { code: full.slice(0, cut), message: full.slice(cut + 1) } });
      return undefined;
    }
    return { tenant, publisher };
  }

  function contentTypeParam(req: Req, reply: FastifyReply): ContentType | undefined {
    const ct = q(req, 'contentType');
    if (ct === undefined || ct === '') {
      afError(reply, 400, 'AF20001', 'contentType');
      return undefined;
    }
    const found = CONTENT_TYPES.find((c) => c.toLowerCase() === ct.toLowerCase());
    if (!found) {
      afError(reply, 400, 'AF20020');
      return undefined;
    }
    return found;
  }

  function enabledSubscription(tenant: SimTenant, ct: ContentType, reply: FastifyReply): SimSubscription | undefined {
    const sub = tenant.subscriptions.get(ct);
    if (!sub) {
      afError(reply, 400, 'AF20022');
      return undefined;
    }
    if (sub.status !== 'enabled') {
      afError(reply, 400, 'AF20023', 'a tenant admin');
      return undefined;
    }
    return sub;
  }

  /** Window rules: both or neither; ≤ 24 h; start ≤ 7 days back; start < end. */
  function windowOf(req: Req, reply: FastifyReply): { start: number; end: number; startRaw: string; endRaw: string } | undefined {
    const startRaw = q(req, 'startTime');
    const endRaw = q(req, 'endTime');
    const now = deps.now();
    // Neither given: the 24 hours before the request. Paging then names that window explicitly
    // ("they will be set to reflect the 24-hour interval that preceded the original request").
    if (startRaw === undefined && endRaw === undefined) {
      const end = Math.floor(now / 1000) * 1000 + 1000; // whole seconds, never cutting off this second's content
      return { start: end - DAY, end, startRaw: apiTime(end - DAY), endRaw: apiTime(end) };
    }
    if (startRaw === undefined || endRaw === undefined || startRaw === '' || endRaw === '') {
      afError(reply, 400, 'AF20030');
      return undefined;
    }
    const start = parseApiTime(startRaw);
    const end = parseApiTime(endRaw);
    if (start === undefined) {
      afError(reply, 400, 'AF20002', 'startTime', 'DateTime');
      return undefined;
    }
    if (end === undefined) {
      afError(reply, 400, 'AF20002', 'endTime', 'DateTime');
      return undefined;
    }
    if (start >= end) {
      afError(reply, 400, 'AF20055');
      return undefined;
    }
    if (end - start > DAY || start < now - 7 * DAY) {
      afError(reply, 400, 'AF20030');
      return undefined;
    }
    return { start, end, startRaw, endRaw };
  }

  function descriptor(b: Blob) {
    return {
      contentType: b.contentType,
      contentId: b.contentId,
      contentUri: contentUri(b.tenantId, b.contentId),
      contentCreated: new Date(b.createdMs).toISOString(),
      contentExpiration: new Date(b.createdMs + RETENTION_MS).toISOString(),
    };
  }

  const pageToken = (b: Blob) => `${b.availableMs}R${b.contentId.split('$')[4]}`;

  for (const ver of ['v1.0', 'v1']) {
    const root = `/api/${ver}/:tenant/activity/feed`;

    app.post(`${root}/subscriptions/start`, async (req: Req, reply) => {
      const ct = q(req, 'contentType');
      const g = gate(req, reply, 'StartSubscription', ct);
      if (!g) return reply;
      const contentType = contentTypeParam(req, reply);
      if (!contentType) return reply;
      const body = req.body;
      let webhook: { address: string; authId: string | null; expiration: string | null } | null = null;
      if (body !== undefined && body !== null && body !== '') {
        if (typeof body !== 'object' || Array.isArray(body)) return afError(reply, 400, 'AF20002', 'body', 'JSON object');
        const w = (body as Record<string, unknown>).webhook;
        if (w !== undefined && w !== null) {
          if (typeof w !== 'object' || Array.isArray(w)) return afError(reply, 400, 'AF20002', 'webhook', 'JSON object');
          const wo = w as Record<string, unknown>;
          const problem = webhookAddressProblem(wo.address);
          if (problem) return afError(reply, 400, 'AF20021', String(wo.address ?? ''), problem);
          let expiration: string | null = null;
          if (wo.expiration !== undefined && wo.expiration !== null && wo.expiration !== '') {
            const exp = typeof wo.expiration === 'string' ? Date.parse(wo.expiration) : NaN;
            if (!Number.isFinite(exp)) return afError(reply, 400, 'AF20002', 'expiration', 'DateTime');
            if (exp <= deps.now()) return afError(reply, 400, 'AF20003', String(wo.expiration));
            expiration = new Date(exp).toISOString();
          }
          const authId = wo.authId === undefined || wo.authId === null || wo.authId === '' ? null : String(wo.authId).slice(0, 500);
          webhook = { address: String(wo.address), authId, expiration };
        }
      }
      const existing = g.tenant.subscriptions.get(contentType);
      if (existing) expireWebhook(existing, deps.now());
      const sameHook = (a: SimSubscription['webhook'], b: typeof webhook) =>
        (a === null && b === null) || (a !== null && b !== null && a.status === 'enabled' && a.address === b.address && a.authId === b.authId && a.expiration === b.expiration);
      if (existing && existing.status === 'enabled' && sameHook(existing.webhook, webhook)) return afError(reply, 400, 'AF20024');
      if (webhook) {
        const v = await deps.webhooks.validate({ address: webhook.address, authId: webhook.authId });
        if (!v.ok) return afError(reply, 400, 'AF20021', webhook.address, v.reason);
      }
      const sub: SimSubscription = {
        contentType,
        status: 'enabled',
        webhook: webhook ? { ...webhook, status: 'enabled' } : null,
        createdAt: existing && existing.status === 'enabled' ? existing.createdAt : deps.now(),
      };
      g.tenant.subscriptions.set(contentType, sub);
      return subscriptionView(sub);
    });

    app.post(`${root}/subscriptions/stop`, async (req: Req, reply) => {
      const g = gate(req, reply, 'StopSubscription', q(req, 'contentType'));
      if (!g) return reply;
      const contentType = contentTypeParam(req, reply);
      if (!contentType) return reply;
      const sub = g.tenant.subscriptions.get(contentType);
      if (!sub) return afError(reply, 400, 'AF20022');
      sub.status = 'disabled';
      if (sub.webhook) sub.webhook.status = 'disabled';
      return reply.code(200).send();
    });

    app.get(`${root}/subscriptions/list`, async (req: Req, reply) => {
      const g = gate(req, reply, 'ListSubscriptions');
      if (!g) return reply;
      return CONTENT_TYPES.filter((c) => g.tenant.subscriptions.has(c)).map((c) => {
        const sub = g.tenant.subscriptions.get(c)!;
        expireWebhook(sub, deps.now());
        return subscriptionView(sub);
      });
    });

    app.get(`${root}/subscriptions/content`, async (req: Req, reply) => {
      const g = gate(req, reply, 'GetContents', q(req, 'contentType'));
      if (!g) return reply;
      const contentType = contentTypeParam(req, reply);
      if (!contentType) return reply;
      if (!enabledSubscription(g.tenant, contentType, reply)) return reply;
      const w = windowOf(req, reply);
      if (!w) return reply;
      const nextPage = q(req, 'nextPage');
      if (nextPage !== undefined && !/^\d{1,15}R(sim\d{1,12}|bg\d{1,12})$/.test(nextPage)) return afError(reply, 400, 'AF20031', nextPage);
      let items = deps.audit.list(g.tenant, contentType, w.start, w.end);
      if (nextPage) {
        const [msRaw, suffix] = nextPage.split('R') as [string, string];
        const key = `${msRaw.padStart(15, '0')}${suffix}`;
        items = items.filter((b) => `${String(b.availableMs).padStart(15, '0')}${b.contentId.split('$')[4]}` >= key);
      }
      const size = deps.quirks().pageSize;
      if (items.length > size) {
        const next = items[size]!;
        const params = new URLSearchParams({ contentType });
        params.set('startTime', w.startRaw);
        params.set('endTime', w.endRaw);
        params.set('nextPage', pageToken(next));
        reply.header('NextPageUri', `${deps.baseUrl()}/api/v1/${g.tenant.id}/activity/feed/subscriptions/content?${params.toString()}`);
        items = items.slice(0, size);
      }
      return items.map(descriptor);
    });

    app.get(`${root}/subscriptions/notifications`, async (req: Req, reply) => {
      const g = gate(req, reply, 'ListNotifications', q(req, 'contentType'));
      if (!g) return reply;
      const contentType = contentTypeParam(req, reply);
      if (!contentType) return reply;
      if (!enabledSubscription(g.tenant, contentType, reply)) return reply;
      const w = windowOf(req, reply);
      if (!w) return reply;
      const nextPage = q(req, 'nextPage');
      if (nextPage !== undefined && !/^\d{1,15}R\d{1,9}$/.test(nextPage)) return afError(reply, 400, 'AF20031', nextPage);
      const all = deps.webhooks.notifications(g.tenant.id, contentType).filter((n) => {
        const c = Date.parse(n.contentCreated);
        return c >= w.start && c < w.end;
      });
      // Paging as for content (the reference documents the same NextPageUri for notifications).
      const from = nextPage ? Number(nextPage.split('R')[1]) : 0;
      const size = deps.quirks().pageSize;
      if (all.length > from + size) {
        const params = new URLSearchParams({ contentType, startTime: w.startRaw, endTime: w.endRaw, nextPage: `${w.start}R${from + size}` });
        reply.header('NextPageUri', `${deps.baseUrl()}/api/v1/${g.tenant.id}/activity/feed/subscriptions/notifications?${params.toString()}`);
      }
      return all
        .slice(from, from + size)
        .map((n) => ({
          contentType: n.contentType,
          contentId: n.contentId,
          contentUri: n.contentUri,
          contentCreated: n.contentCreated,
          contentExpiration: n.contentExpiration,
          notificationSent: n.notificationSent,
          notificationStatus: n.notificationStatus,
        }));
    });

    app.get(`${root}/audit/:contentId`, async (req: Req, reply) => {
      const g = gate(req, reply, 'GetBlob');
      if (!g) return reply;
      const id = req.params.contentId ?? '';
      const found = deps.audit.lookup(g.tenant, id);
      if (!found.ok) return afError(reply, 400, found.code, id);
      if (!enabledSubscription(g.tenant, found.blob.contentType, reply)) return reply;
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(found.records));
    });

    app.get(`${root}/resources/dlpSensitiveTypes`, async (req: Req, reply) => {
      const g = gate(req, reply, 'GetDlpSensitiveTypes');
      if (!g) return reply;
      const lang = req.headers['accept-language'];
      if (typeof lang === 'string' && lang.length) {
        if (lang.includes(',')) return afError(reply, 400, 'AF20053');
        if (!/^[a-z]{2,3}(-[a-z0-9]{2,8})*$/i.test(lang.trim())) return afError(reply, 400, 'AF20054');
      }
      return [
        { id: '50842eb7-edc8-4019-85dd-5a5c1f2bb085', name: 'Credit Card Number' },
        { id: 'a44669fe-0d48-453d-a9b1-2cc83f2cba77', name: 'U.S. Social Security Number (SSN)' },
        { id: 'e7dc4711-11b7-4cb0-b88b-2c394a771f0e', name: 'International Banking Account Number (IBAN)' },
      ];
    });
  }
}
