// The dispatcher against real HTTP receivers: signed webhooks verified at the receiver, retries with
// backoff, dead letters after maxAttempts, and a broken, hanging or unreachable channel never delaying
// the others. On every dialect.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';
import { recordDetections } from '../src/alerts/record.ts';
import { createChannels } from '../src/notify/channels/index.ts';
import { verifyWebhookSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from '../src/notify/channels/webhook.ts';
import { startDispatcher } from '../src/notify/dispatcher.ts';
import { notifyHealth, retryDeadLetters } from '../src/notify/outbox.ts';
import { getAlertDetail } from '../src/alerts/queries.ts';
import type { Detection } from '../src/model.ts';

const SECRET = 'receiver-shared-secret-0123456789';

interface Received {
  path: string;
  key: string;
  verified: boolean;
  body: Record<string, unknown>;
}

async function startReceiver() {
  const received: Received[] = [];
  const hanging: http.ServerResponse[] = [];
  let flaky = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verified = verifyWebhookSignature({ secret: SECRET, timestamp: req.headers[TIMESTAMP_HEADER] as string, signature: req.headers[SIGNATURE_HEADER] as string, body });
      const path = req.url ?? '';
      received.push({ path, key: String(req.headers['idempotency-key']), verified, body: JSON.parse(body) as Record<string, unknown> });
      if (!verified) return res.writeHead(401).end('bad signature');
      if (path === '/ok') return res.writeHead(200).end('ok');
      if (path === '/fail500') return res.writeHead(500).end('boom');
      if (path === '/reject') return res.writeHead(400).end('bad request');
      if (path === '/flaky') return ++flaky <= 2 ? res.writeHead(503).end('busy') : res.writeHead(202).end();
      if (path === '/hang') return void hanging.push(res);
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port with nothing listening: bind, note, close.
  const dead = http.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/x`;
  await new Promise<void>((r) => dead.close(() => r()));
  return {
    url,
    deadUrl,
    received,
    close: async () => {
      for (const h of hanging) h.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const T = '22222222-0000-4000-8000-000000000002';
function det(user: string, i = 0): Detection {
  return {
    recordId: `r-${user}-${i}`,
    ruleId: 'mailbox-forwarding-external',
    behaviour: 'mailbox-forwarding-external',
    severity: 'high',
    tenantId: T,
    userId: user,
    summary: `${user} set mailbox forwarding to x@evil.example`,
    attempt: false,
    occurredAt: '2026-11-20T10:00:00.000Z',
    target: 'x@evil.example',
  };
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(DIALECTS)('dispatcher on %s', (dialect) => {
  let s: TestStore;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    s = await freshStore(dialect);
    rx = await startReceiver();
  });
  afterAll(async () => {
    await rx?.close();
    await s?.dispose();
  });

  it('delivers signed webhooks, retries what may succeed later, dead-letters the rest, and a bad channel never delays a good one', async () => {
    const hook = (name: string, path: string, timeoutMs = 2000) => ({ name, type: 'webhook', url: `${rx.url}${path}`, secret: SECRET, timeoutMs });
    const notify = {
      channels: [hook('good', '/ok'), hook('broken', '/fail500'), hook('hang', '/hang', 1500), { ...hook('gone', ''), url: rx.deadUrl }, hook('flaky', '/flaky'), hook('reject', '/reject')],
      routes: [],
    };
    const channels = createChannels(notify);
    const [change] = await s.db.transaction().execute((trx) => recordDetections(trx, [det('jane@contoso.com')], { config: { alerts: { groupWindowMinutes: 60 }, notify } }));
    expect(change.notifications).toHaveLength(6);
    const d = startDispatcher({ db: s.db, channels, maxAttempts: 3, baseBackoffMs: 50, pollMs: 20, linkFor: (a) => `https://tw.example/remediate/token-for-${a.alertId}` });
    try {
      // The good channel is delivered while the hanging one is still in flight.
      await waitFor(() => rx.received.some((r) => r.path === '/ok'));
      const hangRow = await s.db.selectFrom('notify_outbox').select('status').where('channel', '=', 'hang').executeTakeFirstOrThrow();
      expect(hangRow.status).toBe('sending');
      await waitFor(async () => {
        const h = await notifyHealth(s.db);
        return h.pending + h.sending === 0;
      }, 40_000);
    } finally {
      await d.stop();
    }
    const rows = await s.db.selectFrom('notify_outbox').selectAll().where('alert_id', '=', change.alertId).orderBy('channel').execute();
    const byName = Object.fromEntries(rows.map((r) => [r.channel, r]));
    expect(byName.good).toMatchObject({ status: 'sent', attempts: 1 });
    expect(byName.flaky).toMatchObject({ status: 'sent', attempts: 3 });
    expect(byName.broken).toMatchObject({ status: 'dead', attempts: 3, last_error: 'HTTP 500: boom' });
    expect(byName.hang).toMatchObject({ status: 'dead', attempts: 3, last_error: 'timed out after 1500 ms' });
    expect(byName.gone.status).toBe('dead');
    expect(byName.gone.last_error).toMatch(/^unreachable: /);
    // A 400 is not worth retrying: dead after one attempt.
    expect(byName.reject).toMatchObject({ status: 'dead', attempts: 1, last_error: 'HTTP 400: bad request' });
    expect(rx.received.every((r) => r.verified)).toBe(true);
    const good = rx.received.filter((r) => r.path === '/ok');
    expect(good).toHaveLength(1);
    expect(good[0].key).toBe(`${change.alertId}.created.good`);
    expect(good[0].body).toMatchObject({ type: 'alert.created', idempotencyKey: good[0].key, alert: { id: change.alertId, severity: 'high' }, links: { remediate: `https://tw.example/remediate/token-for-${change.alertId}` } });
    // Every retry of a delivery carries the same idempotency key.
    expect(new Set(rx.received.filter((r) => r.path === '/flaky').map((r) => r.key)).size).toBe(1);
    const health = await notifyHealth(s.db);
    expect(health.dead).toBe(4);
    expect(health.deadLetters.map((x) => x.channel).sort()).toEqual(['broken', 'gone', 'hang', 'reject']);
    expect(health.byChannel.broken).toMatchObject({ dead: 1, lastError: 'HTTP 500: boom' });
    const detail = await getAlertDetail(s.db, change.alertId);
    expect(detail?.notifications.find((n) => n.channel === 'flaky')?.tries.map((t) => t.ok)).toEqual([false, false, true]);
    expect(detail?.activity.filter((a) => a.action === 'notification-sent')).toHaveLength(2);
    expect(detail?.activity.filter((a) => a.action === 'notification-dead')).toHaveLength(4);
    // Dead letters can be put back once the channel is fixed.
    expect(await retryDeadLetters(s.db, new Date().toISOString(), 'broken')).toBe(1);
    expect((await notifyHealth(s.db)).pending).toBe(1);
  });

  it('lets only one of two dispatchers send a row (leases)', async () => {
    const notify = { channels: [{ name: 'solo', type: 'webhook', url: `${rx.url}/ok`, secret: SECRET }], routes: [] };
    const users = Array.from({ length: 20 }, (_, i) => `lease${i}@contoso.com`);
    await s.db.transaction().execute((trx) => recordDetections(trx, users.map((u) => det(u)), { config: { alerts: { groupWindowMinutes: 60 }, notify } }));
    const before = rx.received.length;
    const a = startDispatcher({ db: s.db, channels: createChannels(notify), pollMs: 5, owner: 'A' });
    const b = startDispatcher({ db: s.db, channels: createChannels(notify), pollMs: 5, owner: 'B' });
    await Promise.all([a.drain(), b.drain()]);
    await Promise.all([a.stop(), b.stop()]);
    const got = rx.received.slice(before).filter((r) => r.path === '/ok');
    expect(got).toHaveLength(20);
    expect(new Set(got.map((r) => r.key)).size).toBe(20);
  });
});

describe('webhook signatures', () => {
  it('verifies a fresh signature and rejects a replayed timestamp or a changed body', () => {
    const body = '{"a":1}';
    const ts = '1800000000';
    const sig = signWebhook(SECRET, ts, body);
    expect(verifyWebhookSignature({ secret: SECRET, timestamp: ts, body, signature: sig, nowSeconds: 1800000010 })).toBe(true);
    expect(verifyWebhookSignature({ secret: SECRET, timestamp: ts, body, signature: sig, nowSeconds: 1800000000 + 3600 })).toBe(false);
    expect(verifyWebhookSignature({ secret: SECRET, timestamp: ts, body: '{"a":2}', signature: sig, nowSeconds: 1800000010 })).toBe(false);
    expect(verifyWebhookSignature({ secret: 'another-secret-xxxxxxxx', timestamp: ts, body, signature: sig, nowSeconds: 1800000010 })).toBe(false);
  });
});
