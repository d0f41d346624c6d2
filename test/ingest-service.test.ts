// The service composed by startService against the simulator: webhook mode end to end (validation
// handshake, subscription with webhook, notification → fetch), and `tenantwatch run`'s graceful stop.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.ts';
import { buildIngest, startService } from '../src/main.ts';
import { createPoller } from '../src/ingest/poller.ts';
import { startSim, type StartedSim } from './helpers/sim.ts';
import { freshStore, type TestStore } from './helpers/stores.ts';
import { addTenants, ingestWorld, records, simConfig, storedIds, tenantIds, writeSimConfig } from './helpers/ingest-world.ts';

const BIN = path.resolve('bin/tenantwatch.js');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the ingest service against the simulator', () => {
  let sim: StartedSim;
  let store: TestStore;
  const [t1, t2] = tenantIds(2) as [string, string];
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 2, types: ['Audit.Exchange'] }) });
  });
  afterAll(async () => {
    await sim.stop();
    await store?.dispose();
  });

  it('subscribes with a webhook, answers the validation and fetches notified content before the next poll is due', { timeout: 90_000 }, async () => {
    store = await freshStore('sqlite');
    await addTenants(store.db, [t1]);
    const port = await freePort();
    const config = simConfig(sim, store.url, {
      microsoft: { contentTypes: ['Audit.Exchange'] },
      web: { listen: `127.0.0.1:${port}`, publicUrl: `http://127.0.0.1:${port}` },
      ingest: { pollIntervalSeconds: 600, webhook: { enabled: true, authId: 'o365-hook-secret-7f3c' } },
    });
    const service = await startService(config, { roles: 'all', logger: silentLogger() });
    try {
      expect(service.webUrl).toContain(String(port));
      // The first cycle re-starts the subscription with our webhook; the simulator validates it first.
      await until('the subscription with a webhook', async () =>
        (await sim.control.requests({ tenant: t1, path: '/subscriptions/start' })).some((r) => r.status === 200),
      );
      await new Promise((r) => setTimeout(r, 1500)); // the first cycle finishes
      const recs = records(t1, 'Audit.Exchange', 6);
      await sim.control.injectRecords(t1, 'Audit.Exchange', recs);
      // pollIntervalSeconds is 600: only the notification can bring these records in now.
      await until('the notified records', async () => (await storedIds(store.db)).size === 6);
      const blob = await store.db.selectFrom('ingest_blobs').select(['status']).executeTakeFirstOrThrow();
      expect(blob.status).toBe('done');
    } finally {
      await service.stop();
    }
  });

  it('stops `tenantwatch run` gracefully on SIGTERM with exit code 0', { timeout: 90_000 }, async () => {
    const s2 = await freshStore('sqlite');
    await addTenants(s2.db, [t2]);
    await sim.control.injectRecords(t2, 'Audit.Exchange', records(t2, 'Audit.Exchange', 5));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-run-'));
    const cfg = path.join(dir, 'tw.yaml');
    const port = await freePort();
    writeSimConfig(cfg, sim, s2.url, { microsoft: { contentTypes: ['Audit.Exchange'] }, web: { listen: `127.0.0.1:${port}` }, ingest: { pollIntervalSeconds: 5 } });
    const child = spawn(process.execPath, [BIN, '--config', cfg, 'run'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until('the service to ingest', async () => (await storedIds(s2.db)).size === 5, 60_000);
      expect(out).toMatch(/tenantwatch running \(role all\) on http:\/\/127\.0\.0\.1:\d+/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('tenantwatch stopped');
      const cursor = await s2.db.selectFrom('ingest_cursors').select(['listed_to']).where('tenant_id', '=', t2).executeTakeFirstOrThrow();
      expect(cursor.listed_to).not.toBeNull();
    } finally {
      child.kill('SIGKILL');
      await s2.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('detection inside the ingest pipeline', () => {
  let sim: StartedSim;
  let store: TestStore;
  const [t1] = tenantIds(1) as [string];
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 1, types: ['Audit.Exchange', 'Audit.AzureActiveDirectory'] }) });
  });
  afterAll(async () => {
    await sim.stop();
    await store?.dispose();
  });

  it('turns an external forwarding rule into one alert whose evidence holds each record once, however often it is polled', { timeout: 90_000 }, async () => {
    store = await freshStore('sqlite');
    await addTenants(store.db, [t1]);
    const context = { acceptedDomains: [{ domain: 't1.example.com', matchSubdomains: false }], recipients: [], trustedIps: [], exclusions: [], known: true };
    await store.db.updateTable('tenants').set({ context_json: JSON.stringify(context), context_loaded_at: new Date().toISOString() }).where('tenant_id', '=', t1).execute();
    const config = simConfig(sim, store.url, { microsoft: { contentTypes: ['Audit.Exchange', 'Audit.AzureActiveDirectory'] } });
    const parts = await buildIngest(config, silentLogger());
    const poller = createPoller({ db: parts.store.db, api: parts.api, config, pipeline: parts.pipeline, logger: silentLogger() });
    await sim.control.activity(t1, 'inbox-rule-forward', { user: 'jane@t1.example.com', destination: 'drop@evil.example.net', baseline: false });
    await new Promise((r) => setTimeout(r, 1100));
    const first = await poller.pollOnce();
    expect(first.totals.errors).toBe(0);
    expect(first.totals.records).toBeGreaterThan(0);
    await poller.pollOnce({ sinceMs: 3600_000 }); // re-lists everything: nothing may be processed twice
    const alerts = await store.db.selectFrom('alerts').select(['id', 'rule_id', 'tenant_id']).where('tenant_id', '=', t1).execute();
    expect(alerts.some((a) => a.rule_id === 'inbox-rule-external-forward')).toBe(true);
    const evidence = await store.db.selectFrom('alert_evidence').select(['alert_id', 'record_id']).execute();
    expect(evidence.length).toBeGreaterThan(0);
    expect(new Set(evidence.map((e) => `${e.alert_id}|${e.record_id}`)).size).toBe(evidence.length);
    await parts.http.close();
    await parts.store.close();
  });
});
