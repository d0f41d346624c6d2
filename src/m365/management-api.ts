// The Office 365 Management Activity API: subscriptions, content listing (windows + NextPageUri paging)
// and content blobs. Every request carries PublisherIdentifier, blob downloads included, so our calls
// count against our own quota, not the shared one (m365-api.md §2; Microsoft: "Activity API reference").
import { baseUrlsOf, type Config } from '../config.ts';
import { OperatorError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { M365Error, isM365Error } from './m365-error.ts';

/** What we need from src/m365/http.ts (its M365Http satisfies this). */
export interface ManagementHttp {
  request(
    tenantId: string,
    resource: 'management',
    req: { method: string; url: string; body?: string; headers?: Record<string, string>; timeoutMs?: number; maxBodyBytes?: number; acceptStatuses?: number[] },
  ): Promise<{ status: number; headers: Record<string, string>; body: string }>;
}

export interface ContentItem {
  contentType: string;
  contentId: string;
  contentUri: string;
  contentCreated?: string;
  contentExpiration?: string;
}

export interface Subscription {
  contentType: string;
  status: string;
  webhook: { status?: string; address?: string; authId?: string; expiration?: string | null } | null;
}

export interface WebhookSpec {
  address: string;
  authId: string;
  /** ISO time; empty = no expiry. */
  expiration?: string;
}

export type BlobResult =
  | { ok: true; records: unknown[]; bytes: number }
  | { ok: false; kind: 'too-large' | 'malformed' | 'expired' | 'missing' | 'throttled' | 'failed'; error: OperatorError; retryable: boolean };

export interface ManagementApi {
  startSubscription(tenantId: string, contentType: string, webhook?: WebhookSpec | null): Promise<{ changed: boolean; subscription?: Subscription }>;
  stopSubscription(tenantId: string, contentType: string): Promise<void>;
  listSubscriptions(tenantId: string): Promise<Subscription[]>;
  /** Lists one window page by page (NextPageUri followed verbatim). */
  listContent(tenantId: string, contentType: string, start: Date, end: Date, now?: Date): AsyncGenerator<ContentItem[]>;
  fetchBlob(tenantId: string, contentUri: string, contentId: string): Promise<BlobResult>;
}

export const DAY_MS = 24 * 3600_000;
export const RETENTION_MS = 7 * DAY_MS;

/** `YYYY-MM-DDTHH:MM:SS`, one of the formats the API documents (§2.3). */
export function apiTime(d: Date): string {
  return d.toISOString().slice(0, 19);
}

/** Why a window breaks Microsoft's rules (§2.3: both bounds, start < end, ≤ 24 h, start ≤ 7 days ago), or undefined. */
export function windowProblem(start: Date, end: Date, now: Date = new Date()): string | undefined {
  if (!(start.getTime() < end.getTime())) return 'start must be before end (AF20055)';
  if (end.getTime() - start.getTime() > DAY_MS) return 'more than 24 hours apart (AF20030)';
  if (start.getTime() < now.getTime() - RETENTION_MS) return 'start is more than 7 days ago (AF20030)';
  return undefined;
}

/** Microsoft's error body `{"error":{"code","message"}}` → code + message (bounded), if present. */
export function parseApiError(body: string): { code?: string; message?: string } {
  try {
    const j = JSON.parse(body.length > 65_536 ? body.slice(0, 65_536) : body) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof j?.error?.code === 'string' ? j.error.code : undefined;
    const message = typeof j?.error?.message === 'string' ? j.error.message.slice(0, 300) : undefined;
    return { code, message };
  } catch {
    return {};
  }
}

/** AF429 "Too many requests" arrives as HTTP 403 (documented example) or 429 (§2.5). */
export function isThrottle(status: number, body: string): boolean {
  if (status === 429) return true;
  if (status !== 403) return false;
  const { code, message } = parseApiError(body);
  return code === 'AF429' || /too many request/i.test(message ?? body.slice(0, 500));
}

/** What an AF code means for the poller. */
export function afMeaning(code: string | undefined): { retryable: boolean; kind: 'throttled' | 'expired' | 'missing' | 'subscription' | 'permission' | 'bad-request' | 'server' | 'other' } {
  switch (code) {
    case 'AF429':
      return { retryable: true, kind: 'throttled' };
    case 'AF50000':
      return { retryable: true, kind: 'server' };
    case 'AF20051':
      return { retryable: false, kind: 'expired' };
    case 'AF20050':
    case 'AF20052':
      return { retryable: false, kind: 'missing' };
    case 'AF20022':
    case 'AF20023':
      return { retryable: false, kind: 'subscription' };
    case 'AF10001':
    case 'AF20010':
    case 'AF20011':
    case 'AF20012':
      return { retryable: false, kind: 'permission' };
    case undefined:
      return { retryable: false, kind: 'other' };
    default:
      return { retryable: false, kind: code.startsWith('AF200') ? 'bad-request' : 'other' };
  }
}

export interface ManagementApiDeps {
  config: Readonly<Config>;
  http: ManagementHttp;
  logger?: Logger;
}

export function managementBase(config: Readonly<Config>): string {
  // The cloud picks Microsoft's host (manage.office.com, manage-gcc.office.com, manage.office365.us …).
  return baseUrlsOf(config).management;
}

function publisherOf(config: Readonly<Config>): string {
  return config.microsoft.publisherIdentifier ?? config.microsoft.partnerTenantId ?? '';
}

/** Adds PublisherIdentifier to a URL unless it already carries one (page links may). */
export function withPublisher(uri: string, publisher: string): string {
  if (!publisher) return uri;
  const u = new URL(uri);
  if (![...u.searchParams.keys()].some((k) => k.toLowerCase() === 'publisheridentifier')) {
    return `${uri}${u.search ? '&' : '?'}PublisherIdentifier=${encodeURIComponent(publisher)}`;
  }
  return uri;
}

/**
 * Page links and content URIs come from responses and webhook notifications; a bearer token only ever
 * goes to the configured management origin and to a path of the same tenant.
 */
export function isTrustedUri(uri: string, base: string, tenantId: string): boolean {
  let u: URL;
  let b: URL;
  try {
    u = new URL(uri);
    b = new URL(base);
  } catch {
    return false;
  }
  if (u.origin !== b.origin || u.username || u.password) return false;
  const segs = u.pathname.toLowerCase().split('/');
  return segs.includes(tenantId.toLowerCase());
}

export function createManagementApi(deps: ManagementApiDeps): ManagementApi {
  const { config, http } = deps;
  const base = managementBase(config);
  const publisher = publisherOf(config);
  const feed = (tenantId: string): string => `${base}/api/v1.0/${encodeURIComponent(tenantId)}/activity/feed`;
  const maxBlobBytes = config.ingest.maxBlobBytes;

  function upstream(tenantId: string, status: number, body: string, what: string): M365Error {
    const { code, message } = parseApiError(body);
    const meaning = afMeaning(code);
    const throttled = isThrottle(status, body);
    return new M365Error(
      throttled ? 'TW_M365_THROTTLED' : 'TW_M365_REJECTED',
      { reason: `${what}: ${message ?? `HTTP ${status}`}`, attempts: 1 },
      { resource: 'management', tenantId, status, upstreamCode: code ?? (throttled ? 'AF429' : undefined), upstreamMessage: message, retryable: throttled || meaning.retryable || status >= 500 },
    );
  }

  async function call(tenantId: string, method: string, url: string, body?: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const res = await http.request(tenantId, 'management', {
      method,
      url: withPublisher(url, publisher),
      body,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    });
    return res;
  }

  function header(headers: Record<string, string>, name: string): string | undefined {
    const want = name.toLowerCase();
    for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === want) return v;
    return undefined;
  }

  return {
    async startSubscription(tenantId, contentType, webhook) {
      const url = `${feed(tenantId)}/subscriptions/start?contentType=${encodeURIComponent(contentType)}`;
      const body = webhook === undefined ? undefined : JSON.stringify({ webhook: webhook === null ? null : { address: webhook.address, authId: webhook.authId, expiration: webhook.expiration ?? '' } });
      try {
        const res = await call(tenantId, 'POST', url, body);
        if (res.status >= 200 && res.status < 300) {
          let sub: Subscription | undefined;
          try {
            sub = JSON.parse(res.body) as Subscription;
          } catch {
            sub = undefined;
          }
          return { changed: true, subscription: sub };
        }
        // "already enabled, no property change" is success (undocumented, observed; m365-api.md §2.1).
        if (parseApiError(res.body).code === 'AF20024') return { changed: false };
        throw upstream(tenantId, res.status, res.body, `start ${contentType}`);
      } catch (e) {
        if (isM365Error(e) && e.upstreamCode === 'AF20024') return { changed: false };
        throw e;
      }
    },

    async stopSubscription(tenantId, contentType) {
      const res = await call(tenantId, 'POST', `${feed(tenantId)}/subscriptions/stop?contentType=${encodeURIComponent(contentType)}`);
      if (res.status >= 300) throw upstream(tenantId, res.status, res.body, `stop ${contentType}`);
    },

    async listSubscriptions(tenantId) {
      const res = await call(tenantId, 'GET', `${feed(tenantId)}/subscriptions/list`);
      if (res.status >= 300) throw upstream(tenantId, res.status, res.body, 'list subscriptions');
      try {
        const list = JSON.parse(res.body) as unknown;
        return Array.isArray(list) ? (list as Subscription[]) : [];
      } catch (e) {
        throw new M365Error('TW_M365_BAD_RESPONSE', { reason: 'subscriptions/list is not JSON' }, { resource: 'management', tenantId, status: res.status, cause: e, retryable: true });
      }
    },

    async *listContent(tenantId, contentType, start, end, now = new Date()) {
      const problem = windowProblem(start, end, now);
      if (problem) throw new OperatorError('TW_INGEST_WINDOW', { start: apiTime(start), end: apiTime(end), reason: problem });
      let url: string | undefined =
        `${feed(tenantId)}/subscriptions/content?contentType=${encodeURIComponent(contentType)}` +
        `&startTime=${apiTime(start)}&endTime=${apiTime(end)}`;
      let pages = 0;
      while (url) {
        if (!isTrustedUri(url, base, tenantId)) throw new OperatorError('TW_INGEST_UNTRUSTED_URI', { uri: url.slice(0, 200), tenantId });
        const res = await call(tenantId, 'GET', url);
        if (res.status >= 300) throw upstream(tenantId, res.status, res.body, `list ${contentType}`);
        let items: unknown;
        try {
          items = JSON.parse(res.body);
        } catch (e) {
          throw new M365Error('TW_M365_BAD_RESPONSE', { reason: 'content listing is not JSON' }, { resource: 'management', tenantId, status: res.status, cause: e, retryable: true });
        }
        const page: ContentItem[] = [];
        if (Array.isArray(items)) {
          for (const it of items as Array<Record<string, unknown>>) {
            if (it && typeof it.contentId === 'string' && typeof it.contentUri === 'string') {
              page.push({
                contentType: typeof it.contentType === 'string' ? it.contentType : contentType,
                contentId: it.contentId,
                contentUri: it.contentUri,
                contentCreated: typeof it.contentCreated === 'string' ? it.contentCreated : undefined,
                contentExpiration: typeof it.contentExpiration === 'string' ? it.contentExpiration : undefined,
              });
            }
          }
        }
        yield page;
        // A truncated page carries NextPageUri; fetch it verbatim until a response lacks it (§2.3).
        url = header(res.headers, 'NextPageUri') || undefined;
        if (++pages > 10_000) throw new M365Error('TW_M365_BAD_RESPONSE', { reason: 'more than 10,000 pages in one window' }, { resource: 'management', tenantId, retryable: true });
      }
    },

    async fetchBlob(tenantId, contentUri, contentId) {
      const cid = contentId.slice(0, 200);
      if (!isTrustedUri(contentUri, base, tenantId)) {
        return { ok: false, kind: 'failed', retryable: false, error: new OperatorError('TW_INGEST_UNTRUSTED_URI', { uri: contentUri.slice(0, 200), tenantId }) };
      }
      let res: { status: number; headers: Record<string, string>; body: string };
      try {
        // http.ts streams the body and stops at maxBodyBytes, so memory stays bounded however large a blob is;
        // it retries 429 / AF429-as-403 / 5xx honouring Retry-After.
        res = await http.request(tenantId, 'management', { method: 'GET', url: withPublisher(contentUri, publisher), maxBodyBytes: maxBlobBytes });
      } catch (e) {
        if (isM365Error(e)) {
          if (e.code === 'TW_M365_BAD_RESPONSE' && /larger than/.test(e.message)) {
            return { ok: false, kind: 'too-large', retryable: false, error: new OperatorError('TW_INGEST_BLOB_TOO_LARGE', { contentId: cid, tenantId, max: maxBlobBytes }) };
          }
          const meaning = afMeaning(e.upstreamCode);
          const kind = e.code === 'TW_M365_THROTTLED' ? 'throttled' : meaning.kind === 'expired' ? 'expired' : meaning.kind === 'missing' ? 'missing' : 'failed';
          return { ok: false, kind, retryable: kind === 'throttled' || e.retryable || meaning.retryable || e.status === 401, error: e };
        }
        const err = e instanceof OperatorError ? e : new OperatorError('TW_INTERNAL', { detail: (e as Error).message?.slice(0, 200) });
        return { ok: false, kind: 'failed', retryable: true, error: err };
      }
      if (res.status >= 300) {
        const err = upstream(tenantId, res.status, res.body, 'fetch content');
        const meaning = afMeaning(err.upstreamCode);
        const kind = meaning.kind === 'expired' ? 'expired' : meaning.kind === 'missing' ? 'missing' : 'failed';
        return { ok: false, kind, retryable: meaning.retryable || res.status >= 500, error: err };
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(res.body);
      } catch (e) {
        return { ok: false, kind: 'malformed', retryable: true, error: new OperatorError('TW_INGEST_BLOB_MALFORMED', { contentId: cid, tenantId, reason: (e as Error).message.slice(0, 120) }) };
      }
      if (!Array.isArray(parsed)) {
        return { ok: false, kind: 'malformed', retryable: true, error: new OperatorError('TW_INGEST_BLOB_MALFORMED', { contentId: cid, tenantId, reason: 'not an array' }) };
      }
      return { ok: true, records: parsed, bytes: Buffer.byteLength(res.body) };
    },
  };
}
