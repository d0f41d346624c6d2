// Management Activity API webhooks: the validation handshake during subscriptions/start and the
// notification POSTs (array of content descriptors with tenantId/clientId, Webhook-AuthID header) with
// retries. Microsoft requires HTTPS; the simulator also accepts http://127.0.0.1, localhost and [::1].
import { randomUUID } from 'node:crypto';
import type { Agent } from 'undici';
import type { Blob } from './audit-log.ts';
import { RETENTION_MS } from './audit-log.ts';
import type { ContentType } from './types.ts';

export interface NotificationEntry {
  tenantId: string;
  contentType: ContentType;
  contentId: string;
  contentUri: string;
  contentCreated: string;
  contentExpiration: string;
  notificationSent: string | null;
  notificationStatus: string;
  attempts: number;
}

export interface WebhookTarget {
  address: string;
  authId: string | null;
}

export function webhookAddressProblem(address: unknown): string | undefined {
  if (typeof address !== 'string' || address.length === 0 || address.length > 2048) return 'The address is missing.';
  let u: URL;
  try {
    u = new URL(address);
  } catch {
    return 'The address is not a valid absolute URI.';
  }
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return undefined;
  return 'The address must begin with HTTPS.';
}

export interface WebhookDeps {
  now(): number;
  attempts(): number;
  retryBaseMs(): number;
  contentUri(tenantId: string, contentId: string): string;
  clientId: string;
  /** Current webhook of the tenant's subscription (null when none or disabled). */
  target(tenantId: string, ct: ContentType): WebhookTarget | null;
  /** Consecutive fully failed notifications after which the webhook is disabled (0 = never). */
  disableAfter(): number;
  disable(tenantId: string, ct: ContentType): void;
}

export interface Webhooks {
  validate(target: WebhookTarget): Promise<{ ok: true } | { ok: false; reason: string }>;
  blobCreated(blob: Blob): void;
  /** Sends what is due now (after a clock change). */
  flushDue(): void;
  notifications(tenantId: string, ct: ContentType): NotificationEntry[];
  close(): Promise<void>;
}

export function createWebhooks(deps: WebhookDeps): Webhooks {
  // undici is loaded on first use: most runs never call a webhook, and start-up time matters.
  let undici: Promise<{ agent: Agent; request: typeof import('undici').request }> | undefined;
  const client = () =>
    (undici ??= import('undici').then((u) => ({ agent: new u.Agent({ connect: { timeout: 5000 }, headersTimeout: 10_000, bodyTimeout: 10_000 }), request: u.request })));
  const pending: Array<{ blob: Blob; target: WebhookTarget }> = [];
  const log = new Map<string, NotificationEntry[]>();
  const timers = new Set<NodeJS.Timeout>();
  const failures = new Map<string, number>();
  let closed = false;

  function later(ms: number, fn: () => void): void {
    if (closed) return;
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, Math.max(0, Math.min(ms, 2_147_000_000)));
    t.unref();
    timers.add(t);
  }

  async function post(target: WebhookTarget, headers: Record<string, string>, body: unknown): Promise<number> {
    const { agent, request } = await client();
    const res = await request(target.address, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json; charset=utf-8', ...(target.authId ? { 'webhook-authid': target.authId } : {}), ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    await res.body.dump();
    return res.statusCode;
  }

  function send(entry: NotificationEntry, target: WebhookTarget, attempt: number): void {
    entry.attempts = attempt;
    const descriptor = {
      tenantId: entry.tenantId,
      clientId: deps.clientId,
      contentType: entry.contentType,
      contentId: entry.contentId,
      contentUri: entry.contentUri,
      contentCreated: entry.contentCreated,
      contentExpiration: entry.contentExpiration,
    };
    post(target, {}, [descriptor])
      .then((status) => {
        entry.notificationSent = new Date(deps.now()).toISOString();
        if (status === 200) {
          entry.notificationStatus = 'Succeeded';
          failures.delete(`${entry.tenantId}|${entry.contentType}`);
          return;
        }
        throw new Error(`HTTP ${status}`);
      })
      .catch((err: unknown) => {
        entry.notificationStatus = `Failed: ${(err as Error).message.slice(0, 200)}`;
        if (attempt < deps.attempts()) {
          later(deps.retryBaseMs() * 2 ** (attempt - 1), () => send(entry, target, attempt + 1));
          return;
        }
        const key = `${entry.tenantId}|${entry.contentType}`;
        const n = (failures.get(key) ?? 0) + 1;
        failures.set(key, n);
        const limit = deps.disableAfter();
        if (limit > 0 && n >= limit) {
          failures.delete(key);
          deps.disable(entry.tenantId, entry.contentType);
        }
      });
  }

  function dispatch(blob: Blob, target: WebhookTarget): void {
    const entry: NotificationEntry = {
      tenantId: blob.tenantId,
      contentType: blob.contentType,
      contentId: blob.contentId,
      contentUri: deps.contentUri(blob.tenantId, blob.contentId),
      contentCreated: new Date(blob.createdMs).toISOString(),
      contentExpiration: new Date(blob.createdMs + RETENTION_MS).toISOString(),
      notificationSent: null,
      notificationStatus: 'Pending',
      attempts: 0,
    };
    const key = `${blob.tenantId}|${blob.contentType}`;
    const list = log.get(key) ?? [];
    list.push(entry);
    if (list.length > 5000) list.splice(0, list.length - 5000);
    log.set(key, list);
    send(entry, target, 1);
  }

  function flushDue(): void {
    const now = deps.now();
    for (let i = pending.length - 1; i >= 0; i--) {
      const p = pending[i]!;
      if (p.blob.availableMs <= now) {
        pending.splice(i, 1);
        dispatch(p.blob, p.target);
      }
    }
  }

  return {
    async validate(target) {
      const code = randomUUID();
      try {
        const status = await post(target, { 'webhook-validationcode': code }, { validationCode: code });
        return status === 200 ? { ok: true } : { ok: false, reason: 'The endpoint did not return HTTP 200.' };
      } catch (err) {
        void err;
        return { ok: false, reason: 'The endpoint did not return HTTP 200.' };
      }
    },
    blobCreated(blob) {
      const target = deps.target(blob.tenantId, blob.contentType);
      if (!target) return;
      pending.push({ blob, target });
      later(blob.availableMs - deps.now() + 5, flushDue);
    },
    flushDue,
    notifications(tenantId, ct) {
      return (log.get(`${tenantId}|${ct}`) ?? []).slice();
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      if (undici) await (await undici).agent.close().catch(() => undefined);
    },
  };
}
