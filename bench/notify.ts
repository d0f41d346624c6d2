// notify.p95_ms: a takeover record becomes available in the simulator → its notification is received by a
// signed-webhook receiver. The full path: Management Activity API listing and blob fetch (poller, polled
// back to back), normalize, detect, alert + outbox in one transaction, dispatcher, HTTP POST.
// Polling mode: the latency includes the Management API's listing granularity (whole seconds).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startSim } from '../test/helpers/sim.ts';
import { addTenants, ingestWorld, simConfig, tenantIds } from '../test/helpers/ingest-world.ts';
import { buildIngest } from '../src/main.ts';
import { createPoller } from '../src/ingest/poller.ts';
import { silentLogger } from '../src/log.ts';
import { createDetector } from '../src/detect/detector.ts';
import { loadRulePackFromDirs } from '../rules/index.ts';
import { createChannels } from '../src/notify/channels/index.ts';
import { startDispatcher } from '../src/notify/dispatcher.ts';
import { verifyWebhookSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../src/notify/channels/webhook.ts';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  [k: string]: unknown;
}

const SECRET = 'bench-webhook-secret-0123456789';

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
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

export async function runNotifyBench(samples = 20): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-bench-notify-'));
  const sim = await startSim({ world: ingestWorld({ tenants: 1, types: ['Audit.Exchange'] }) });
  const arrived = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const ok = verifyWebhookSignature({ secret: SECRET, timestamp: req.headers[TIMESTAMP_HEADER] as string, signature: req.headers[SIGNATURE_HEADER] as string, body });
      if (ok) {
        const user = (JSON.parse(body) as { alert: { userId: string } }).alert.userId.toLowerCase();
        if (!arrived.has(user)) arrived.set(user, performance.now());
      }
      res.writeHead(ok ? 200 : 401).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const [tenant] = tenantIds(1);
  const config = simConfig(sim, `sqlite:${path.join(dir, 'tw.db')}`, { notify: { channels: [{ name: 'bench', type: 'webhook', url: hook, secret: SECRET }] } });
  const { pack } = loadRulePackFromDirs();
  const detector = createDetector({ pack });
  // The pipeline's history interface (string keys) and the detector's (HistoryKey objects) differ at the
  // time of writing; this bench's rule (inbox rule deleting all mail) needs no history, so none is offered.
  const parts = await buildIngest(config, silentLogger(), { evaluate: (rec, ctx) => detector.evaluate(rec, ctx) });
  await addTenants(parts.store.db, [tenant]);
  const poller = createPoller({ db: parts.store.db, api: parts.api, config, pipeline: parts.pipeline, logger: silentLogger(), retryBaseMs: 0 });
  const dispatcher = startDispatcher({ db: parts.store.db, channels: createChannels(config.notify), pollMs: 20 });
  const latencies: number[] = [];
  let missed = 0;
  try {
    await poller.pollOnce(); // subscriptions and cursors in place before measuring
    for (let i = 0; i < samples; i++) {
      const user = `bench${i}@t1.example.com`;
      const inj = await sim.control.injectRecords(tenant, 'Audit.Exchange', [takeover(tenant, user)]);
      if (inj.accepted !== 1) throw new Error('the simulator did not accept the record');
      const t0 = performance.now();
      const deadline = t0 + 30_000;
      while (!arrived.has(user) && performance.now() < deadline) {
        await poller.pollOnce();
        if (!arrived.has(user)) await new Promise((r) => setTimeout(r, 100));
      }
      const t1 = arrived.get(user);
      if (t1 === undefined) missed++;
      else latencies.push(t1 - t0);
    }
  } finally {
    await dispatcher.stop();
    await parts.http.close();
    await parts.store.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = { records: samples, delivered: latencies.length, missed, mode: 'poll loop + webhook channel', store: 'sqlite' };
  if (latencies.length === 0) return [{ name: 'notify.p95_ms', value: -1, unit: 'ms', ...base, error: 'no notification arrived' }];
  return [
    { name: 'notify.p95_ms', value: Math.round(percentile(latencies, 95)), unit: 'ms', ...base },
    { name: 'notify.p50_ms', value: Math.round(percentile(latencies, 50)), unit: 'ms', ...base },
  ];
}

export default { name: 'notify', run: () => runNotifyBench() };

// Run directly: node --import tsx bench/notify.ts
if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  for (const r of await runNotifyBench(Number(process.env.BENCH_NOTIFY_SAMPLES ?? 20))) process.stdout.write(JSON.stringify(r) + '\n');
}
