// Generic webhook: JSON, signed. Headers: Idempotency-Key, X-Tenantwatch-Timestamp (unix seconds) and
// X-Tenantwatch-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>. Receivers recompute the
// HMAC over the raw body, compare in constant time and reject timestamps outside their tolerance (replays).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { secret } from '../../config.ts';
import { postJson } from '../http-post.ts';
import type { Channel, NotificationMessage } from '../types.ts';
import { behaviourLabel, titleOf } from '../view.ts';

export const webhookConfig = z
  .object({
    name: z.string(),
    type: z.literal('webhook'),
    url: z.url({ protocol: /^https?$/ }),
    secret: secret(z.string().min(16, 'at least 16 characters')),
    timeoutMs: z.number().int().positive().max(120_000).default(10_000),
  })
  .strict();
export type WebhookConfig = z.infer<typeof webhookConfig>;

export const SIGNATURE_HEADER = 'x-tenantwatch-signature';
export const TIMESTAMP_HEADER = 'x-tenantwatch-timestamp';

/** The JSON body (raw strings: JSON.stringify is the escaping). */
export function renderWebhook(m: NotificationMessage): Record<string, unknown> {
  const v = m.view;
  return {
    type: `alert.${v.event}`,
    idempotencyKey: m.key,
    title: titleOf(v),
    alert: {
      id: v.alertId,
      tenantId: v.tenantId,
      tenantName: v.tenantName ?? null,
      userId: v.userId,
      ruleId: v.ruleId,
      behaviour: v.behaviour,
      behaviourLabel: behaviourLabel(v.behaviour),
      severity: v.severity,
      previousSeverity: v.previousSeverity ?? null,
      summary: v.summary,
      target: v.target ?? null,
      count: v.count,
      firstSeen: v.firstSeen,
      lastSeen: v.lastSeen,
      attempt: v.attempt ?? false,
      source: v.ip
        ? { ip: v.ip, country: v.country ?? null, city: v.city ?? null, asn: v.asn ?? null, asOrg: v.asOrg ?? null, newIp: v.newIp ?? null, newCountry: v.newCountry ?? null, newAsn: v.newAsn ?? null, hosting: v.hosting ?? null }
        : null,
    },
    links: { alert: m.alertUrl ?? null, remediate: m.remediateUrl ?? null },
  };
}

export function signWebhook(secretKey: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secretKey).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** For receivers (and our tests): true when the signature matches and the timestamp is fresh. */
export function verifyWebhookSignature(o: { secret: string; timestamp: string | undefined; body: string; signature: string | undefined; toleranceSeconds?: number; nowSeconds?: number }): boolean {
  if (!o.timestamp || !o.signature || !/^\d{1,12}$/.test(o.timestamp)) return false;
  const now = o.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(o.timestamp)) > (o.toleranceSeconds ?? 300)) return false;
  const want = Buffer.from(signWebhook(o.secret, o.timestamp, o.body));
  const got = Buffer.from(o.signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

export function createWebhookChannel(c: WebhookConfig, deps: { now?: () => Date } = {}): Channel {
  const now = deps.now ?? (() => new Date());
  return {
    name: c.name,
    type: 'webhook',
    timeoutMs: c.timeoutMs,
    render: renderWebhook,
    send: (m, o) => {
      const body = JSON.stringify(renderWebhook(m));
      const ts = String(Math.floor(now().getTime() / 1000));
      return postJson({
        url: c.url,
        body,
        headers: { 'Idempotency-Key': m.key, [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: signWebhook(c.secret, ts, body) },
        signal: o.signal,
        timeoutMs: c.timeoutMs,
      });
    },
  };
}
