// The one HTTP client that talks to Microsoft: undici with pooled keep-alive connections and timeouts, a bearer token
// per tenant + resource, retries with exponential backoff and jitter on throttling (429, AF429 as 403), 5xx and
// network errors honouring Retry-After, a per-tenant request budget below Microsoft's throttle, and every final
// failure mapped to a coded M365Error carrying Microsoft's own code. Tokens never appear in errors or logs.
import { Agent, request as undiciRequest } from 'undici';
import type { Config } from '../config.ts';
import { silentLogger, type Logger } from '../log.ts';
import { tryParseJson } from './json.ts';
import { M365Error, isM365Error, shorten, type M365Resource } from './m365-error.ts';
import { createAgent, type TokenProvider, type TokenResource } from './token.ts';

export interface M365Request {
  method: string;
  /** Absolute URL (built from baseUrlsOf(config)). */
  url: string;
  body?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Largest body we accept (default microsoft-side 64 MiB); bigger answers fail with TW_M365_BAD_RESPONSE. */
  maxBodyBytes?: number;
  /** Statuses (>= 400) the caller handles itself: returned instead of thrown, never retried. */
  acceptStatuses?: number[];
}

export interface M365Response {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface M365Http {
  request(tenantId: string, resource: TokenResource, req: M365Request): Promise<M365Response>;
  /** request() plus a lossless JSON parse of the body; a 2xx body that does not parse is retried like a network error. */
  requestJson<T = unknown>(tenantId: string, resource: TokenResource, req: M365Request): Promise<{ status: number; headers: Record<string, string>; json: T }>;
  close(): Promise<void>;
  readonly stats: { requests: number; retries: number; throttled: number; failures: number };
}

export interface M365HttpOptions {
  config: Readonly<Config>;
  tokens: TokenProvider;
  logger?: Logger;
  /** Waits (tests pass a recorder); default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  agent?: Agent;
  /** Base of the exponential backoff (default 500 ms) and its cap (default 30 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Longest Retry-After we wait for (default 120 s); longer ones are clamped. */
  maxRetryAfterMs?: number;
  /**
   * Where the per-tenant request budget lives. Default: this process (processBudget). The composition root
   * passes a cluster-wide one on PostgreSQL (src/scale/budget.ts), so N workers together stay below the limit.
   */
  budget?: RequestBudget;
}

/**
 * A per-tenant, per-API request budget. take() answers 0 when one request may go now (and counts it), else
 * how many ms to wait before asking again: an exhausted budget means waiting, never failing. It may throw
 * when the budget itself cannot be consulted (the store is unreachable); the request then fails with it.
 */
export interface RequestBudget {
  take(tenantId: string, api: TokenResource): number | Promise<number>;
}

const RESOURCE_NAMES: Record<TokenResource, string> = {
  management: 'the Management Activity API',
  graph: 'Microsoft Graph',
  exchange: 'Exchange Online',
};

/** What a Microsoft error body says, whichever API sent it. */
export interface UpstreamError {
  code?: string;
  message?: string;
  /** Exchange `details[].message` = "ErrorId|ExceptionType|Text" (m365-api.md §5.1). */
  exchange?: { errorId: string; exceptionType: string; text: string };
}

export function parseUpstreamError(body: string): UpstreamError {
  const j = tryParseJson(body) as Record<string, unknown> | undefined;
  if (!j || typeof j !== 'object') return body ? { message: shorten(body.replace(/<[^>]{0,200}>/g, ' ').trim(), 200) } : {};
  const e = j.error as Record<string, unknown> | string | undefined;
  const out: UpstreamError = {};
  if (typeof e === 'string') {
    // Identity platform shape: {"error":"invalid_client","error_description":"AADSTS7000215: …"}
    out.code = e;
    const d = typeof j.error_description === 'string' ? j.error_description : '';
    const aad = /AADSTS\d+/.exec(d);
    if (aad) out.code = aad[0];
    out.message = d;
    return out;
  }
  if (e && typeof e === 'object') {
    if (typeof e.message === 'string') out.message = e.message;
    if (typeof e.code === 'string') {
      // The Management API splits "Method [CorrId=…][TenantId=…][AppId=…] failed. Exception: …" across code and
      // message when unified audit logging is off (m365-api.md §2): a "code" with spaces is text, not a code.
      if (/^[A-Za-z0-9_.:-]{1,64}$/.test(e.code)) out.code = e.code;
      else out.message = `${e.code} ${out.message ?? ''}`.trim();
    }
    // Graph nests the more specific code in innerError / innererror.
    // https://learn.microsoft.com/graph/errors#json-representation
    const inner = (e.innerError ?? e.innererror) as Record<string, unknown> | undefined;
    if (inner && typeof inner === 'object') {
      if (typeof inner.code === 'string' && !out.code) out.code = inner.code;
      const ie = inner.internalException as Record<string, unknown> | undefined;
      if (ie && typeof ie.message === 'string' && (!out.message || out.message === 'Error executing cmdlet')) out.message = ie.message;
    }
    const details = Array.isArray(e.details) ? e.details : [];
    for (const d of details) {
      const msg = d && typeof d === 'object' && typeof (d as Record<string, unknown>).message === 'string' ? ((d as Record<string, unknown>).message as string) : undefined;
      if (!msg) continue;
      // Exchange cmdlet errors: ErrorId|ExceptionType|Text (undocumented, seen in the EXO V3 module's traffic; m365-api.md §5.1).
      const parts = msg.split('|');
      if (parts.length >= 3) {
        out.exchange = { errorId: parts[0]!, exceptionType: parts[1]!, text: parts.slice(2).join('|') };
        out.message = out.exchange.text;
        break;
      }
      if (!out.message) out.message = msg;
    }
    return out;
  }
  if (typeof j.Message === 'string') out.message = j.Message;
  if (typeof j.message === 'string') out.message = j.message;
  return out;
}

function isThrottle(status: number, up: UpstreamError): boolean {
  if (status === 429) return true;
  // The Management Activity API throttles with AF429 on HTTP 403 ("Too many requests. Method=…, PublisherId=…");
  // public clients match the text too. https://learn.microsoft.com/office/office-365-management-api/office-365-management-activity-api-reference#throttling
  if (up.code === 'AF429') return true;
  const m = `${up.message ?? ''}`;
  if (/too many request/i.test(m)) return true;
  // Exchange: "You have reached the maximum number of concurrent requests per tenant" (m365-api.md §5.1).
  if (/maximum number of concurrent requests/i.test(m)) return true;
  if (/MailboxConcurrency/i.test(m) || up.code === 'ApplicationThrottled') return true;
  return false;
}

/** Retry-After in seconds or an HTTP date → ms (undefined when absent or unreadable). */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

const NETWORK_CODES = /^(UND_ERR_|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|ECONNABORTED|ERR_SSL|UND_ERR)/;

function networkReason(e: unknown): { retryable: boolean; reason: string } {
  const err = e as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err?.code ?? err?.cause?.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) return { retryable: false, reason: `TLS: ${code} (check microsoft.caFile)` };
  if (err?.name === 'AbortError' || err?.name === 'TimeoutError' || /Timeout/i.test(code)) return { retryable: true, reason: `timeout (${code || err?.name})` };
  if (NETWORK_CODES.test(code)) return { retryable: true, reason: code };
  return { retryable: true, reason: shorten(String(err?.message ?? e), 120) };
}

class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly capacity: number,
    private readonly perMs: number,
    private readonly now: () => number,
  ) {
    this.tokens = capacity;
    this.last = now();
  }
  /** ms to wait before the next request may go (0 = go now, and the token is taken). */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + (t - this.last) * this.perMs);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / this.perMs);
  }
}

/**
 * The budget of one process: a token bucket per tenant + API holding requestsPerMinute / 6 (a 10-second
 * burst) and refilled at requestsPerMinute. The embedded default (SQLite: one process).
 */
export function processBudget(requestsPerMinute: number, now: () => number = Date.now): RequestBudget {
  const buckets = new Map<string, TokenBucket>();
  return {
    take(tenantId, api) {
      const key = `${tenantId}|${api}`;
      let b = buckets.get(key);
      if (!b) {
        b = new TokenBucket(Math.max(1, Math.ceil(requestsPerMinute / 6)), requestsPerMinute / 60_000, now);
        buckets.set(key, b);
      }
      return b.take();
    },
  };
}

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

class RetryableBody extends Error {}

export function createM365Http(opts: M365HttpOptions): M365Http {
  const { config, tokens } = opts;
  const logger = opts.logger ?? silentLogger();
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = opts.random ?? Math.random;
  const now = opts.now ?? Date.now;
  const agent = opts.agent ?? createAgent(config);
  const ownAgent = !opts.agent;
  const maxRetries = config.microsoft.maxRetries;
  const baseMs = opts.backoffBaseMs ?? 500;
  const capMs = opts.backoffMaxMs ?? 30_000;
  const maxRetryAfter = opts.maxRetryAfterMs ?? 120_000;
  const budget = opts.budget ?? processBudget(config.microsoft.requestsPerMinutePerTenant, now);
  const stats = { requests: 0, retries: 0, throttled: 0, failures: 0 };

  async function spend(tenantId: string, resource: TokenResource): Promise<void> {
    // Our own budget per tenant and API, below Microsoft's per-tenant quota (2,000 requests/minute baseline), so we slow
    // down before Microsoft answers AF429. https://learn.microsoft.com/office/office-365-management-api/office-365-management-activity-api-reference#throttling
    for (let wait = await budget.take(tenantId, resource); wait > 0; wait = await budget.take(tenantId, resource)) await sleep(wait);
  }

  function backoff(attempt: number): number {
    const exp = Math.min(capMs, baseMs * 2 ** attempt);
    return Math.round(exp / 2 + random() * (exp / 2));
  }

  async function once(tenantId: string, resource: TokenResource, req: M365Request): Promise<M365Response> {
    const token = await tokens.getToken(tenantId, resource);
    const timeoutMs = req.timeoutMs ?? config.microsoft.timeoutMs;
    const maxBytes = req.maxBodyBytes ?? config.ingest.maxBlobBytes;
    const res = await undiciRequest(req.url, {
      method: req.method as 'GET',
      dispatcher: agent,
      headers: {
        accept: 'application/json',
        ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...req.headers,
        authorization: `Bearer ${token}`,
      },
      body: req.body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs * 2),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        res.body.destroy();
        throw new M365Error('TW_M365_BAD_RESPONSE', { reason: `body larger than ${maxBytes} bytes` }, { resource, tenantId, status: res.statusCode });
      }
      chunks.push(chunk);
    }
    return { status: res.statusCode, headers: flatHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') };
  }

  function finalError(tenantId: string, resource: TokenResource, req: M365Request, res: M365Response, attempts: number): M365Error {
    const up = parseUpstreamError(res.body);
    const upstreamCode = up.exchange ? `${up.exchange.errorId}|${up.exchange.exceptionType}` : up.code;
    const reason = shorten(up.message ?? `HTTP ${res.status}`, 200);
    const base = { resource: resource as M365Resource, tenantId, status: res.status, upstreamCode, upstreamMessage: up.message };
    if (isThrottle(res.status, up)) return new M365Error('TW_M365_THROTTLED', { attempts }, { ...base, retryable: true });
    // Without unified audit logging every Management API call fails with this text (m365-api.md §2).
    // https://learn.microsoft.com/office/office-365-management-api/troubleshooting-the-office-365-management-activity-api
    if (resource === 'management' && /DataServiceException|Tenant .{1,60} does not exist/i.test(up.message ?? '')) {
      return new M365Error('TW_M365_AUDIT_DISABLED', {}, {
        ...base,
        upstreamCode: up.code ?? 'DataServiceException',
        fix: `turn the audit log on: \`tenantwatch tenants onboard ${tenantId} --enable-audit\``,
      });
    }
    if (resource === 'exchange' && up.exchange) {
      const cmdlet = req.headers?.['X-CmdletName'] ?? req.headers?.['x-cmdletname'] ?? 'cmdlet';
      if (/ManagementObjectNotFoundException|ObjectNotFound/i.test(up.exchange.exceptionType)) {
        return new M365Error('TW_M365_NOT_FOUND', { what: 'such object' }, { ...base, details: [reason] });
      }
      return new M365Error('TW_M365_CMDLET_FAILED', { cmdlet, reason }, base);
    }
    if (res.status >= 500) return new M365Error('TW_M365_UPSTREAM_FAILED', { attempts, reason }, { ...base, retryable: true });
    if (res.status === 401 || res.status === 403) return new M365Error('TW_M365_PERMISSION_MISSING', { reason: upstreamCode ?? reason }, { ...base, details: [reason] });
    if (res.status === 404) return new M365Error('TW_M365_NOT_FOUND', { what: 'such object' }, { ...base, details: [reason] });
    return new M365Error('TW_M365_REJECTED', { reason }, base);
  }

  function retryableStatus(res: M365Response): boolean {
    const up = res.status >= 400 ? parseUpstreamError(res.body) : {};
    if (isThrottle(res.status, up)) return true;
    if (res.status >= 500) {
      // A cmdlet that failed (ErrorId|Type|Text) fails again; an Exchange transport hiccup does not.
      if ((up as UpstreamError).exchange && !/Transient|Timeout|ServerBusy/i.test((up as UpstreamError).exchange!.exceptionType)) return false;
      return true;
    }
    // Management API internal error, "retry" per the reference (AF50000).
    return (up as UpstreamError).code === 'AF50000';
  }

  async function run(tenantId: string, resource: TokenResource, req: M365Request, validate?: (r: M365Response) => void): Promise<M365Response> {
    let refreshedToken = false;
    let lastNetwork: { reason: string } | undefined;
    let lastRes: M365Response | undefined;
    const host = (() => {
      try {
        return new URL(req.url).host;
      } catch {
        return req.url.slice(0, 60);
      }
    })();
    let attempts = 0;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      attempts = attempt + 1;
      await spend(tenantId, resource);
      stats.requests++;
      let res: M365Response;
      try {
        res = await once(tenantId, resource, req);
      } catch (e) {
        if (isM365Error(e)) {
          // Token errors: missing consent or a bad credential will not fix themselves; identity outages might.
          if (!e.retryable || attempt === maxRetries) {
            stats.failures++;
            throw e;
          }
          stats.retries++;
          await sleep(backoff(attempt));
          continue;
        }
        const nr = networkReason(e);
        lastNetwork = nr;
        logger.debug({ tenantId, resource, attempt, reason: nr.reason }, 'm365 request failed on the network');
        if (!nr.retryable || attempt === maxRetries) break;
        stats.retries++;
        await sleep(backoff(attempt));
        continue;
      }
      lastNetwork = undefined;
      lastRes = res;
      if (res.status < 400 || req.acceptStatuses?.includes(res.status)) {
        if (!validate) return res;
        try {
          validate(res);
          return res;
        } catch (e) {
          if (!(e instanceof RetryableBody)) throw e;
          if (attempt === maxRetries) {
            stats.failures++;
            throw new M365Error('TW_M365_BAD_RESPONSE', { reason: e.message }, { resource, tenantId, status: res.status });
          }
          stats.retries++;
          await sleep(backoff(attempt));
          continue;
        }
      }
      // A 401 right after a cached token may mean it went stale early: fetch a fresh one once.
      if (res.status === 401 && !refreshedToken) {
        refreshedToken = true;
        tokens.invalidate(tenantId, resource);
        stats.retries++;
        continue;
      }
      if (!retryableStatus(res) || attempt === maxRetries) {
        stats.failures++;
        throw finalError(tenantId, resource, req, res, attempt + 1);
      }
      const up = parseUpstreamError(res.body);
      if (isThrottle(res.status, up)) stats.throttled++;
      // Honour Retry-After (seconds) on 429/503 and AF429; back off exponentially with jitter when it is absent.
      // https://learn.microsoft.com/graph/throttling#best-practices-to-handle-throttling
      const ra = retryAfterMs(res.headers['retry-after'], now());
      const wait = ra !== undefined ? Math.min(ra, maxRetryAfter) : backoff(attempt);
      logger.info(
        { tenantId, resource, status: res.status, upstreamCode: up.code, attempt: attempt + 1, waitMs: wait },
        `${RESOURCE_NAMES[resource]} asked us to retry`,
      );
      stats.retries++;
      await sleep(wait);
    }
    stats.failures++;
    if (lastNetwork || !lastRes) {
      throw new M365Error('TW_M365_UNREACHABLE', { host, attempts, reason: lastNetwork?.reason ?? 'no answer' }, { resource, tenantId, retryable: true });
    }
    throw finalError(tenantId, resource, req, lastRes, attempts);
  }

  return {
    stats,
    request: (tenantId, resource, req) => run(tenantId, resource, req),
    async requestJson<T>(tenantId: string, resource: TokenResource, req: M365Request) {
      let json: unknown;
      const res = await run(tenantId, resource, req, (r) => {
        if (r.status === 204 || r.body.trim() === '') {
          json = undefined;
          return;
        }
        json = tryParseJson(r.body);
        if (json === undefined) throw new RetryableBody('the body is not JSON');
      });
      return { status: res.status, headers: res.headers, json: json as T };
    },
    async close() {
      if (ownAgent) await agent.close();
    },
  };
}
