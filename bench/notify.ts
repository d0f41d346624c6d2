// notify.p95_ms (contracts §8): a takeover record becomes available in the simulator → its notification is
// received by a signed-webhook receiver, in **webhook mode**. The service runs as an operator runs it on
// the embedded default: `startService` (src/main.ts), role `all`, one process on SQLite, with
// `ingest.webhook.enabled`, `web.publicUrl` = the service's own listener and `ingest.webhook.authId`.
// The poller's first cycle (re)starts the subscription with our webhook (m365-sim validates the address);
// from then on m365-sim POSTs a content notification for each new blob to /hooks/management-activity,
// and the path measured is: notification → receiver → registerNotified → claim + blob fetch → normalize,
// detect, alert + outbox (one transaction) → dispatcher → signed HTTP POST to the local receiver.
//
// t0: when `injectRecords` returns. The simulator runs with latency 0 (test/helpers/sim.ts): an injected
// record's blob gets createdMs = availableMs = the injection time (packages/m365-sim/src/audit-log.ts),
// so it is listable and fetchable — "available" — before the control call answers; t0 is therefore at or
// after availability (the figure can only understate by the control call's return trip, ~1 ms).
// t1: the signed notification (valid signature) arrives at the receiver.
//
// ingest.pollIntervalSeconds is 3600, so after the first cycle no timed poll runs during the samples; each
// sample also reads the simulator's request log for content listings between injection and delivery:
// servedByWebhook counts samples without one (the blob came from the notification alone), withListing
// those with one (a poll cycle ran; the blob may have come from the listing).
// One warm-up sample (the first alert after start: geo databases opened, code paths compiled) is reported
// as warmupMs and not counted. Samples start 100–600 ms apart at random, so no fixed period of the
// service (a timer) can line up with the injections.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startSim } from '../test/helpers/sim.ts';
import { addTenants, ingestWorld, simConfig, tenantIds } from '../test/helpers/ingest-world.ts';
import { startService } from '../src/main.ts';
import { silentLogger } from '../src/log.ts';
import { openStore } from '../src/store/db.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { verifyWebhookSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../src/notify/channels/webhook.ts';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  [k: string]: unknown;
}

const SECRET = 'bench-webhook-secret-0123456789';
const AUTH_ID = 'bench-o365-hook-authid-5c1e';
const CONTENT_TYPE = 'Audit.Exchange';
const LISTING = '/activity/feed/subscriptions/content';

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function takeover(tenantId: string, user: string): Record<string, unknown> {
  return {
    Id: randomUUID(),
    CreationTime: new Date(Date.now() - 5_000).toISOString().slice(0, 19),
    Operation: 'New-InboxRule',
    OrganizationId: tenantId,
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
  };
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

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function runNotifyBench(samples = 20): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-bench-notify-'));
  const sim = await startSim({ world: ingestWorld({ tenants: 1, types: [CONTENT_TYPE] }) });
  const arrived = new Map<string, number>();
  const waiting = new Map<string, () => void>();
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const body = Buffer.concat(chunks).toString('utf8');
      const ok = verifyWebhookSignature({ secret: SECRET, timestamp: req.headers[TIMESTAMP_HEADER] as string, signature: req.headers[SIGNATURE_HEADER] as string, body });
      if (ok) {
        const user = (JSON.parse(body) as { alert: { userId: string } }).alert.userId.toLowerCase();
        if (!arrived.has(user)) {
          arrived.set(user, at);
          waiting.get(user)?.();
        }
      }
      res.writeHead(ok ? 200 : 401).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const [tenant] = tenantIds(1) as [string];
  const port = await freePort();
  const config = simConfig(sim, `sqlite:${path.join(dir, 'tw.db')}`, {
    microsoft: { contentTypes: [CONTENT_TYPE] },
    web: { listen: `127.0.0.1:${port}`, publicUrl: `http://127.0.0.1:${port}` },
    ingest: { pollIntervalSeconds: 3600, webhook: { enabled: true, authId: AUTH_ID } },
    notify: { channels: [{ name: 'bench', type: 'webhook', url: hook, secret: SECRET }] },
  });
  // The tenant is registered before the service starts, as after `tenants add`.
  {
    const s = await openStore(config.store.url);
    await migrateToLatest(s.db);
    await addTenants(s.db, [tenant]);
    await s.close();
  }
  const service = await startService(config, { roles: 'all', logger: silentLogger() });
  const latencies: number[] = [];
  let missed = 0;
  let byWebhook = 0;
  let withListing = 0;
  let warmupMs: number | undefined;
  try {
    // The first cycle re-starts the subscription with our webhook (validated by the simulator) and lists
    // up to now; wait for both before measuring.
    await until('the subscription with our webhook', async () => {
      const st = (await sim.control.state(tenant)) as { subscriptions?: Array<{ contentType: string; webhook?: { status?: string; address?: string } | null }> };
      return !!st.subscriptions?.some((s) => s.contentType === CONTENT_TYPE && s.webhook?.status === 'enabled' && s.webhook.address?.startsWith(`http://127.0.0.1:${port}/`));
    });
    await until('the first poll cycle', async () => {
      const c = await service.store.db.selectFrom('ingest_cursors').select(['last_success_at']).where('tenant_id', '=', tenant).executeTakeFirst();
      return !!c?.last_success_at;
    });
    for (let i = -1; i < samples; i++) {
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 500));
      const user = i < 0 ? `warmup@t1.example.com` : `bench${i}@t1.example.com`;
      const before = await sim.control.requests({ tenant });
      const seq = before.length ? before[before.length - 1]!.seq : 0;
      const got = new Promise<void>((r) => waiting.set(user, r));
      const inj = await sim.control.injectRecords(tenant, CONTENT_TYPE, [takeover(tenant, user)]);
      const t0 = performance.now();
      if (inj.accepted !== 1) throw new Error(`the simulator did not accept the record: ${inj.reason ?? '?'}`);
      await Promise.race([got, new Promise((r) => setTimeout(r, 30_000).unref())]);
      waiting.delete(user);
      const t1 = arrived.get(user);
      if (t1 === undefined) {
        if (i >= 0) missed++;
        continue;
      }
      if (i < 0) {
        warmupMs = Math.round(t1 - t0);
        continue;
      }
      latencies.push(t1 - t0);
      const listed = (await sim.control.requests({ since: seq, tenant, path: LISTING })).length > 0;
      if (listed) withListing++;
      else byWebhook++;
    }
  } finally {
    await service.stop();
    receiver.closeAllConnections();
    await new Promise<void>((r) => receiver.close(() => r()));
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = {
    records: samples,
    tenants: 1,
    contentTypes: 1,
    delivered: latencies.length,
    missed,
    servedByWebhook: byWebhook,
    withListing,
    warmupMs,
    mode: 'webhook',
    store: 'sqlite',
    processes: 1,
    pollIntervalSeconds: config.ingest.pollIntervalSeconds,
  };
  if (latencies.length === 0) return [{ name: 'notify.p95_ms', value: -1, unit: 'ms', ...base, error: 'no notification arrived' }];
  return [
    { name: 'notify.p95_ms', value: Math.round(percentile(latencies, 95)), unit: 'ms', ...base },
    { name: 'notify.p50_ms', value: Math.round(percentile(latencies, 50)), unit: 'ms', ...base },
  ];
}

export default { name: 'notify', run: () => runNotifyBench(Number(process.env.BENCH_NOTIFY_SAMPLES ?? 20)) };

// Run directly: node --import tsx bench/notify.ts
if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  for (const r of await runNotifyBench(Number(process.env.BENCH_NOTIFY_SAMPLES ?? 20))) process.stdout.write(JSON.stringify(r) + '\n');
}
