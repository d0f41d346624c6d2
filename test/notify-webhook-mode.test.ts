// Webhook mode without waiting for a poll: a Management Activity API notification makes a worker's poller
// fetch just the announced blob (no listing, no cycle over the tenants), the alert's outbox rows wake the
// dispatcher in the same process, and the composed service notifies with an hour between polls. Real
// simulator over HTTPS, real HTTP receivers.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordDetections } from '../src/alerts/record.ts';
import { silentLogger } from '../src/log.ts';
import { buildIngest, startService } from '../src/main.ts';
import { createPoller } from '../src/ingest/poller.ts';
import { createChannels } from '../src/notify/channels/index.ts';
import { verifyWebhookSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../src/notify/channels/webhook.ts';
import { outboxCommitted, startDispatcher } from '../src/notify/dispatcher.ts';
import type { Detection } from '../src/model.ts';
import { startSim, type StartedSim } from './helpers/sim.ts';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';
import { addTenants, ingestWorld, records, simConfig, storedIds, tenantIds } from './helpers/ingest-world.ts';

const SECRET = 'webhook-mode-receiver-secret-0123456789';
const HOUR_MS = 3600_000;

async function startReceiver() {
  const received: Array<{ key: string; verified: boolean; body: { alert?: { id?: string; userId?: string } } }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verified = verifyWebhookSignature({ secret: SECRET, timestamp: req.headers[TIMESTAMP_HEADER] as string, signature: req.headers[SIGNATURE_HEADER] as string, body });
      received.push({ key: String(req.headers['idempotency-key']), verified, body: JSON.parse(body) as never });
      res.writeHead(verified ? 200 : 401).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe.each(DIALECTS)('the dispatcher woken by a commit on %s', (dialect) => {
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

  it('sends rows as soon as their transaction is signalled, with an hour between polls, also past a channel at its concurrency limit', async () => {
    const notify = { channels: [{ name: 'hook', type: 'webhook', url: rx.url, secret: SECRET }], routes: [] };
    // The first poll of this dispatcher is an hour away: only outboxCommitted() can make it send now.
    const d = startDispatcher({ db: s.db, channels: createChannels(notify), pollMs: HOUR_MS, perChannelConcurrency: 1 });
    try {
      const T = '33333333-0000-4000-8000-000000000003';
      const det = (user: string): Detection => ({
        recordId: `r-${user}`,
        ruleId: 'mailbox-forwarding-external',
        behaviour: 'mailbox-forwarding-external',
        severity: 'high',
        tenantId: T,
        userId: user,
        summary: `${user} set mailbox forwarding to x@evil.example`,
        attempt: false,
        occurredAt: '2026-11-20T10:00:00.000Z',
        target: 'x@evil.example',
      });
      const users = ['a@contoso.com', 'b@contoso.com', 'c@contoso.com'];
      const changes = await s.db.transaction().execute((trx) => recordDetections(trx, users.map(det), { config: { alerts: { groupWindowMinutes: 60 }, notify } }));
      expect(changes.flatMap((c) => c.notifications)).toHaveLength(3);
      outboxCommitted(s.db);
      // One send at a time on this channel: the second and third rows go when the first send finishes.
      await until('three deliveries', () => rx.received.length >= 3);
      expect(rx.received.every((r) => r.verified)).toBe(true);
      expect(new Set(rx.received.map((r) => r.key))).toEqual(new Set(changes.map((c) => `${c.alertId}.created.hook`)));
      await until('the rows marked sent', async () => (await s.db.selectFrom('notify_outbox').select('status').where('status', '!=', 'sent').execute()).length === 0);
    } finally {
      await d.stop();
    }
  });
});

describe.each(DIALECTS)("a worker's poller told of new content on %s", (dialect) => {
  let sim: StartedSim;
  let store: TestStore;
  const [t1, t2] = tenantIds(2) as [string, string];
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 2, types: ['Audit.Exchange'] }) });
    store = await freshStore(dialect);
  });
  afterAll(async () => {
    await sim?.stop();
    await store?.dispose();
  });

  it('fetches just the announced blobs, at once and once, without listing or touching other tenants', { timeout: 90_000 }, async () => {
    await addTenants(store.db, [t1, t2]);
    const config = simConfig(sim, store.url, { microsoft: { contentTypes: ['Audit.Exchange'] }, ingest: { pollIntervalSeconds: 3600 } });
    const parts = await buildIngest(config, silentLogger());
    // Neither loop nor cycle: a worker's poller in webhook mode, as main.ts builds it.
    const poller = createPoller({ db: parts.store.db, api: parts.api, config, pipeline: parts.pipeline, logger: silentLogger(), webhook: { address: 'https://tw.example/hooks/management-activity', authId: 'x'.repeat(16) } });
    try {
      const log = await sim.control.requests({});
      const since = log.length ? log[log.length - 1]!.seq : 0;
      const inj = await sim.control.injectRecords(t1, 'Audit.Exchange', records(t1, 'Audit.Exchange', 4));
      await sim.control.injectRecords(t2, 'Audit.Exchange', records(t2, 'Audit.Exchange', 3)); // not announced
      const announced = inj.contentIds.map((contentId) => ({ tenantId: t1, contentType: 'Audit.Exchange', contentId, contentUri: `${sim.url}/api/v1.0/${t1}/activity/feed/audit/${contentId}` }));
      expect(await poller.registerNotified(announced)).toBe(1);
      await until('the announced records', async () => (await storedIds(store.db)).size === 4);
      // Announced again (Microsoft may repeat itself): nothing is fetched twice.
      expect(await poller.registerNotified(announced)).toBe(0);
      await poller.stop();
      const calls = await sim.control.requests({ since });
      expect(calls.filter((c) => c.path.includes('/activity/feed/subscriptions/content'))).toEqual([]);
      expect(calls.filter((c) => c.path.includes('/activity/feed/audit/')).map((c) => [c.tenant, c.status])).toEqual([[t1, 200]]);
      expect([...(await storedIds(store.db)).keys()].every((k) => k.startsWith(`${t1}|`))).toBe(true);
      const blob = await store.db.selectFrom('ingest_blobs').select(['status', 'records']).where('content_id', '=', inj.contentIds[0]!).executeTakeFirstOrThrow();
      expect(blob).toMatchObject({ status: 'done', records: 4 });
    } finally {
      await poller.stop();
      await parts.http.close();
      await parts.store.close();
    }
  });
});

describe('webhook mode, one process on SQLite', () => {
  let sim: StartedSim;
  let store: TestStore;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  const [t1] = tenantIds(1) as [string];
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 1, types: ['Audit.Exchange'] }) });
    store = await freshStore('sqlite');
    rx = await startReceiver();
  });
  afterAll(async () => {
    await rx?.close();
    await sim?.stop();
    await store?.dispose();
  });

  it('notifies an alert from a webhook notification with an hour between polls: the announced blob fetched once without a listing, each alert notified once', { timeout: 120_000 }, async () => {
    await addTenants(store.db, [t1]);
    const port = await freePort();
    const config = simConfig(sim, store.url, {
      microsoft: { contentTypes: ['Audit.Exchange'] },
      web: { listen: `127.0.0.1:${port}`, publicUrl: `http://127.0.0.1:${port}` },
      ingest: { pollIntervalSeconds: 3600, webhook: { enabled: true, authId: 'o365-hook-secret-webhook-mode' } },
      notify: { channels: [{ name: 'soc-hook', type: 'webhook', url: rx.url, secret: SECRET }] },
    });
    const service = await startService(config, { roles: 'all', logger: silentLogger() });
    try {
      // The first (and, with an hour between polls, only) cycle starts the subscription with our webhook.
      await until('the subscription with our webhook', async () => {
        const st = (await sim.control.state(t1)) as { subscriptions: Array<{ webhook?: { status?: string; address?: string } | null }> };
        return st.subscriptions.some((x) => x.webhook?.status === 'enabled' && !!x.webhook.address?.startsWith(`http://127.0.0.1:${port}/`));
      });
      await until('the first cycle', async () => !!(await store.db.selectFrom('ingest_cursors').select('last_success_at').where('tenant_id', '=', t1).executeTakeFirst())?.last_success_at);
      const log = await sim.control.requests({ tenant: t1 });
      const since = log.length ? log[log.length - 1]!.seq : 0;

      const user = 'victim@t1.example.com';
      const inj = await sim.control.injectRecords(t1, 'Audit.Exchange', [
        {
          Id: randomUUID(),
          CreationTime: new Date(Date.now() - 5_000).toISOString().slice(0, 19),
          Operation: 'New-InboxRule',
          OrganizationId: t1,
          RecordType: 1,
          ResultStatus: 'True',
          UserKey: '10032001A1B2C3D4',
          UserType: 0,
          Version: 1,
          Workload: 'Exchange',
          ClientIP: '105.112.44.61:55768',
          ObjectId: `${user}\\.`,
          UserId: user,
          Parameters: [
            { Name: 'Name', Value: '.' },
            { Name: 'DeleteMessage', Value: 'True' },
            { Name: 'StopProcessingRules', Value: 'True' },
          ],
        },
      ]);
      expect(inj.accepted).toBe(1);
      await until('the alert notified to the receiver', () => rx.received.some((r) => r.body.alert?.userId?.toLowerCase() === user));
      const alerts = await store.db.selectFrom('alerts').select('id').where('tenant_id', '=', t1).execute();
      expect(alerts.length).toBeGreaterThan(0);
      await until('every alert notified', async () => (await store.db.selectFrom('notify_outbox').select('status').where('status', '!=', 'sent').execute()).length === 0);

      // The notification alone brought it in: no content listing since the injection (no poll job ran),
      // and one fetch.
      expect(await sim.control.requests({ since, tenant: t1, path: '/activity/feed/subscriptions/content' })).toEqual([]);
      const fetched = await sim.control.requests({ since, tenant: t1, path: '/activity/feed/audit/' });
      expect(fetched.map((r) => r.status)).toEqual([200]);
      const blob = await store.db.selectFrom('ingest_blobs').select(['content_id', 'status', 'records']).where('content_id', '=', inj.contentIds[0]!).executeTakeFirstOrThrow();
      expect(blob).toMatchObject({ status: 'done', records: 1 });
      // Every alert reached the receiver once, signed.
      const mine = rx.received.filter((r) => alerts.some((a) => a.id === r.body.alert?.id));
      expect(mine.every((r) => r.verified)).toBe(true);
      expect(mine.map((r) => r.key).sort()).toEqual(alerts.map((a) => `${a.id}.created.soc-hook`).sort());
    } finally {
      await service.stop();
    }
  });
});
