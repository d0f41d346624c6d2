// Scale-out on PostgreSQL: two `tenantwatch run --role worker` processes and one `--role web` share a
// simulator world of 200 tenants through pg-boss; one worker is SIGKILLed mid-cycle; every injected
// record is stored exactly once and every alert reaches a real local webhook receiver exactly once (by
// its idempotency key). A webhook notification received by the web process becomes a job a worker runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { clusterStatus } from '../src/scale/registry.ts';
import { bossTarget } from '../src/scale/scheduler.ts';
import { WEBHOOK_PATH } from '../src/ingest/webhook.ts';
import { startSim, type SimContentType, type StartedSim } from './helpers/sim.ts';
import { freshStore, postgresUrl, type TestStore } from './helpers/stores.ts';
import { addTenants, ingestWorld, records, storedIds, tenantIds, writeSimConfig } from './helpers/ingest-world.ts';

const BIN = path.resolve('bin/tenantwatch.js');
const TYPES: SimContentType[] = ['Audit.Exchange', 'Audit.AzureActiveDirectory', 'Audit.General'];
const TENANTS = 200;
const ATTACKED = 6;
const AUTH = 'scale-test-webhook-auth-id';
const HOOK_SECRET = 'scale-test-hook-secret-0123456789';

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

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number, stepMs = 500): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function startChild(cfg: string, role: string): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  const child = spawn(process.execPath, [BIN, '--config', cfg, 'run', '--role', role], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const ready = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${role} did not start: ${out}`)), 60_000);
    child.stdout!.on('data', () => {
      if (out.includes('tenantwatch running')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${role} exited with ${code}: ${out}`));
    });
  });
  return { child, ready, output: () => out };
}

describe('several workers on PostgreSQL', () => {
  let sim: StartedSim;
  let store: TestStore;
  let dir: string;
  let receiver: http.Server;
  let receiverUrl: string;
  const deliveries: Array<{ key: string; alertId: string }> = [];
  const children: ChildProcess[] = [];
  const tenants = tenantIds(TENANTS);

  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: TENANTS, types: TYPES, quirks: { duplicates: 0.2, outOfOrder: true, throttlePerMinute: 100_000 } }) });
    store = await freshStore('postgres');
    dir = mkdtempSync(path.join(os.tmpdir(), 'tw-scale-'));
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        try {
          const j = JSON.parse(body) as { idempotencyKey: string; alert: { id: string } };
          deliveries.push({ key: j.idempotencyKey, alertId: j.alert.id });
        } catch {
          // not ours
        }
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as net.AddressInfo).port}`;
  }, 120_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await new Promise<void>((r) => receiver?.close(() => r()));
    await sim?.stop();
    if (store) {
      const c = new pg.Client({ connectionString: postgresUrl() });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${bossTarget(store.url).schema} CASCADE`);
      await c.end();
    }
    await store?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ingests every record and notifies every alert exactly once although a worker is SIGKILLed mid-cycle', { timeout: 240_000 }, async () => {
    await addTenants(store.db, tenants);
    // The attacked tenants know their domains, so forwarding to an outside address is a detection.
    const attacked = tenants.slice(0, ATTACKED);
    for (const [i, t] of attacked.entries()) {
      const context = { acceptedDomains: [{ domain: `t${i + 1}.example.com`, matchSubdomains: false }], recipients: [], trustedIps: [], exclusions: [], known: true };
      await store.db.updateTable('tenants').set({ context_json: JSON.stringify(context), context_loaded_at: new Date().toISOString() }).where('tenant_id', '=', t).execute();
    }
    const injected = new Set<string>();
    for (const t of tenants)
      for (const ct of TYPES) {
        const recs = records(t, ct, 4);
        const r = await sim.control.injectRecords(t, ct, recs);
        expect(r.accepted).toBe(recs.length);
        for (const x of recs) injected.add(`${t}|${x.Id as string}`);
      }
    for (const [i, t] of attacked.entries()) await sim.control.activity(t, 'inbox-rule-forward', { user: `jane@t${i + 1}.example.com`, destination: 'drop@evil.example.net', baseline: false });
    await new Promise((r) => setTimeout(r, 1100));
    // Slow blob downloads a little, so that the kill lands while blobs are claimed and committed.
    await sim.control.faults({ match: { path: '/activity/feed/audit/' }, delayMs: 60 });

    const port = await freePort();
    const cfg = path.join(dir, 'tw.yaml');
    writeSimConfig(cfg, sim, store.url, {
      microsoft: { contentTypes: TYPES },
      ingest: { concurrency: 4, perTenantConcurrency: 2, pollIntervalSeconds: 8, webhook: { enabled: false, authId: AUTH } },
      web: { listen: `127.0.0.1:${port}`, publicUrl: `http://127.0.0.1:${port}` },
      notify: { channels: [{ name: 'hook', type: 'webhook', url: `${receiverUrl}/hook`, secret: HOOK_SECRET, timeoutMs: 5000 }], routes: [{ channels: ['hook'] }] },
    });

    const web = startChild(cfg, 'web');
    children.push(web.child);
    await web.ready;
    const a = startChild(cfg, 'worker');
    const b = startChild(cfg, 'worker');
    children.push(a.child, b.child);
    await Promise.all([a.ready, b.ready]);

    const countStored = async (): Promise<number> => Number((await store.db.selectFrom('ingest_records').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    await waitFor('a tenth of the records', async () => (await countStored()) >= injected.size / 10, 120_000, 200);
    const atKill = await countStored();
    a.child.kill('SIGKILL');
    expect(atKill).toBeLessThan(injected.size); // mid-cycle

    const status = await clusterStatus(store.db);
    expect(status.scheduler).toBe('pg-boss');
    expect(status.workers.filter((w) => w.role === 'web').length).toBe(1);

    // The survivor finishes the cycle, including what the dead worker held.
    await waitFor('every record stored', async () => {
      const got = await storedIds(store.db);
      return [...injected].every((k) => got.has(k));
    }, 180_000, 1000);
    const ids = await storedIds(store.db);
    for (const k of injected) expect(ids.get(k)).toBe(1);
    expect([...ids.values()].every((n) => n === 1)).toBe(true);

    // Every alert is notified exactly once: one outbox row per alert, sent, one delivery per idempotency key
    // (a row re-sent after a crash keeps its key, so a receiver that dedupes sees it once).
    await waitFor('alerts for the attacked tenants', async () => {
      const alerts = await store.db.selectFrom('alerts').select('tenant_id').distinct().execute();
      return attacked.every((t) => alerts.some((x) => x.tenant_id === t));
    }, 60_000);
    await waitFor('every notification sent', async () => {
      const open = await store.db.selectFrom('notify_outbox').select('id').where('status', '!=', 'sent').execute();
      return open.length === 0;
    }, 60_000);
    const alerts = await store.db.selectFrom('alerts').select(['id', 'tenant_id']).execute();
    expect(alerts.every((x) => attacked.includes(x.tenant_id))).toBe(true);
    const outbox = await store.db.selectFrom('notify_outbox').select(['id', 'alert_id', 'event', 'attempts']).execute();
    expect(new Set(outbox.filter((o) => o.event === 'created').map((o) => o.alert_id))).toEqual(new Set(alerts.map((x) => x.id)));
    expect(outbox.filter((o) => o.event === 'created').length).toBe(alerts.length);
    const outboxIds = new Set(outbox.map((o) => o.id));
    expect(deliveries.every((d) => outboxIds.has(d.key))).toBe(true);
    for (const o of outbox) {
      const n = deliveries.filter((d) => d.key === o.id).length;
      expect(n).toBeGreaterThanOrEqual(1);
      // More than one delivery only when the row was re-sent after the kill, under the same key.
      if (Number(o.attempts) === 1) expect(n).toBe(1);
    }
    expect(new Set(deliveries.map((d) => d.alertId)).size).toBe(alerts.length);
    // Both workers committed blobs: the work was shared.
    const owners = await store.db.selectFrom('ingest_blobs').select('claimed_by').where('status', '=', 'done').execute();
    const byPid = (pid: number | undefined): number => owners.filter((o) => o.claimed_by?.split('/')[1] === String(pid)).length;
    expect(byPid(a.child.pid)).toBeGreaterThan(0);
    expect(byPid(b.child.pid)).toBeGreaterThan(0);

    // A webhook notification received by the web process becomes a job that the surviving worker runs.
    const t = tenants[ATTACKED + 1]!;
    const recs = records(t, 'Audit.Exchange', 3);
    const r = await sim.control.injectRecords(t, 'Audit.Exchange', recs);
    const now = new Date();
    const notification = r.contentIds.map((cid) => ({
      tenantId: t,
      clientId: 'scale-test',
      contentType: 'Audit.Exchange',
      contentId: cid,
      contentUri: `${sim.url}/api/v1.0/${t}/activity/feed/audit/${cid}`,
      contentCreated: now.toISOString(),
      contentExpiration: new Date(now.getTime() + 6 * 86_400_000).toISOString(),
    }));
    const res = await fetch(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-authid': AUTH }, body: JSON.stringify(notification) });
    expect(res.status).toBe(200);
    await waitFor('the notified records', async () => {
      const got = await storedIds(store.db);
      return recs.every((x) => got.get(`${t}|${x.Id as string}`) === 1);
    }, 60_000);

    // The killed worker drops out of the alive list once its heartbeat is older than 30 s.
    await waitFor('the dead worker counted dead', async () => (await clusterStatus(store.db)).workersAlive === 2, 60_000);
    const after = await clusterStatus(store.db);
    expect(after.workers.find((w) => w.pid === a.child.pid)?.alive).toBe(false);
    expect(after.workersAlive).toBe(2); // the web process and the surviving worker
    expect(after.tenants.length).toBe(TENANTS);
    expect(after.tenants.every((x) => x.lagSeconds !== null)).toBe(true);

    // `tenants health` shows the cluster.
    const health = await new Promise<string>((resolve) => {
      const c = spawn(process.execPath, [BIN, '--config', cfg, 'tenants', 'health', tenants[ATTACKED + 1]!], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NODE_OPTIONS: '' } });
      let o = '';
      c.stdout!.on('data', (d: Buffer) => (o += d.toString()));
      const guard = setTimeout(() => c.kill('SIGKILL'), 60_000);
      c.once('exit', () => (clearTimeout(guard), resolve(o)));
    });
    expect(health).toMatch(/cluster \(pg-boss\): 2 process\(es\) alive, poll jobs \d+ queued, \d+ running/);

    // Graceful stop of the rest.
    for (const c of [b.child, web.child]) c.kill('SIGTERM');
    await Promise.all([b.child, web.child].map((c) => new Promise((res2) => (c.exitCode !== null ? res2(null) : c.once('exit', res2)))));
    expect(b.child.exitCode).toBe(0);
  });
});
