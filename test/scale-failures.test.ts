// Bad input on PostgreSQL with pg-boss, against the real simulator: a poison tenant whose Management API
// always answers 500 and one whose blobs are malformed back off on their own (the first through pg-boss's
// retries into the dead-letter queue — planning rounds do not bypass the backoff — the second through its
// blobs' own retry times) while the other tenants' records are ingested exactly once. And the scale.*
// configuration keys reach pg-boss's queue and jobs.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.ts';
import { buildIngest, type IngestParts } from '../src/main.ts';
import { createPollJobs } from '../src/scale/jobs.ts';
import { clusterStatus } from '../src/scale/registry.ts';
import { bossTarget, startBossScheduler, type Scheduler } from '../src/scale/scheduler.ts';
import { startSim, type SimContentType, type StartedSim } from './helpers/sim.ts';
import { freshStore, postgresUrl, type TestStore } from './helpers/stores.ts';
import { addTenants, ingestWorld, records, simConfig, storedIds, tenantIds, writeSimConfig } from './helpers/ingest-world.ts';

const BIN = path.resolve('bin/tenantwatch.js');
const TYPES: SimContentType[] = ['Audit.Exchange'];
const LISTING = '/activity/feed/subscriptions/content';
const BLOBS = '/activity/feed/audit/';

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000, stepMs = 200): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface JobRow {
  queue: string;
  key: string | null;
  state: string;
  retry_count: number;
  retry_limit: number;
  retry_delay: number;
  expire_seconds: number;
}

/** Every job of our two queues in the store's pg-boss schema (the dead-letter copies carry the job's data, not its key). */
async function bossJobs(storeUrl: string): Promise<JobRow[]> {
  const c = new pg.Client({ connectionString: postgresUrl() });
  await c.connect();
  try {
    const schema = bossTarget(storeUrl).schema;
    const r = await c.query<JobRow>(
      `SELECT name AS queue, COALESCE(singleton_key, (data->>'tenantId') || '|' || (data->>'contentType')) AS key, state::text AS state,
              retry_count, retry_limit, retry_delay, EXTRACT(EPOCH FROM expire_in)::int AS expire_seconds
       FROM ${schema}.job WHERE name LIKE 'tenantwatch-poll%'`,
    );
    return r.rows;
  } finally {
    await c.end();
  }
}

async function dropBossSchema(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: postgresUrl() });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${bossTarget(url).schema} CASCADE`);
  await c.end();
}

describe('poison tenants on PostgreSQL (pg-boss)', () => {
  let sim: StartedSim;
  const tenants = tenantIds(5);
  let store: TestStore | undefined;
  let parts: IngestParts | undefined;
  let scheduler: Scheduler | undefined;
  let dir: string;
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: tenants.length, types: TYPES }) });
    dir = mkdtempSync(path.join(os.tmpdir(), 'tw-scale-fail-'));
  });
  afterEach(async () => {
    await scheduler?.stop();
    await parts?.http.close();
    await parts?.store.close();
    if (store) {
      await dropBossSchema(store.url);
      await store.dispose();
    }
    scheduler = parts = store = undefined;
    await sim.control.clearFaults();
  });
  afterAll(async () => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a tenant always answering 500 and one serving malformed blobs back off on their own while the others are ingested', { timeout: 180_000 }, async () => {
    store = await freshStore('postgres');
    const s = store;
    await addTenants(s.db, tenants);
    const [failing, malformed, ...good] = tenants as [string, string, ...string[]];
    const key = (t: string) => `${t}|Audit.Exchange`;
    await sim.control.faults({ match: { tenantId: failing, path: LISTING }, status: 500 });
    await sim.control.faults({ match: { tenantId: malformed, path: BLOBS }, malformedJson: true });
    const injected: string[] = [];
    const inject = async (t: string, n: number): Promise<void> => {
      const recs = records(t, 'Audit.Exchange', n);
      const r = await sim.control.injectRecords(t, 'Audit.Exchange', recs);
      expect(r.accepted).toBe(n);
      for (const x of recs) injected.push(`${t}|${x.Id as string}`);
    };
    for (const t of good) await inject(t, 3);
    // Three blobs of the malformed tenant (one per injection).
    for (let i = 0; i < 3; i++) await sim.control.injectRecords(malformed, 'Audit.Exchange', records(malformed, 'Audit.Exchange', 2));
    await new Promise((r) => setTimeout(r, 1100));

    const config = simConfig(sim, s.url, { microsoft: { contentTypes: TYPES, maxRetries: 0 }, ingest: { concurrency: 2, perTenantConcurrency: 1 } });
    parts = await buildIngest(config, silentLogger());
    const jobs = createPollJobs({ db: s.db, api: parts.api, config, pipeline: parts.pipeline, logger: silentLogger() });
    const RETRIES = 2;
    scheduler = await startBossScheduler({ url: s.url, db: s.db, config, logger: silentLogger(), jobs, role: 'worker', plan: false, retryLimit: RETRIES, retryDelaySeconds: 1 });
    const sch = scheduler;
    await sch.planNow();

    // Planning rounds (as every worker runs each poll interval) while the failing tenant's job waits for its
    // first retry or runs it: none of them queues a fresh job for that key, so the backoff holds. Meanwhile the
    // good tenants get new records, polled by the same rounds.
    await waitFor('the failing job waiting for its first retry', async () => (await bossJobs(s.url)).some((j) => j.key === key(failing) && j.state === 'retry' && j.retry_count === 1));
    let rounds = 0;
    let injectedLate = false;
    for (;;) {
      const mine = (await bossJobs(s.url)).filter((j) => j.key === key(failing) && j.queue === 'tenantwatch-poll');
      const current = mine.find((j) => j.state === 'retry' || j.state === 'active');
      if (!current || current.retry_count !== 1) break; // at its last retry now (or beyond): stop planning
      expect(mine.length).toBe(1); // one job for the key: planning did not add another
      await sch.planNow();
      rounds++;
      if (!injectedLate) {
        for (const t of good) await inject(t, 2);
        injectedLate = true;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(rounds).toBeGreaterThan(0);

    await waitFor('the failing job dead-lettered', async () => (await clusterStatus(s.db)).jobs.dead >= 1, 90_000);
    // A planning round still polls the good tenants with their late records.
    await waitFor('every good record stored', async () => {
      await sch.enqueue(good.map((t) => ({ tenantId: t, contentType: 'Audit.Exchange' })));
      const ids = await storedIds(s.db);
      return injected.every((k) => ids.get(k) === 1);
    });
    await sch.idle();

    // The failing tenant: one job, run 1 + RETRIES times (one listing request each), then dead-lettered.
    const listings = await sim.control.requests({ tenant: failing, path: LISTING });
    expect(listings.length).toBe(1 + RETRIES);
    expect(listings.every((r) => r.status === 500)).toBe(true);
    const all = await bossJobs(s.url);
    const failingJobs = all.filter((j) => j.key === key(failing));
    expect(failingJobs.filter((j) => j.queue === 'tenantwatch-poll').map((j) => [j.state, j.retry_count])).toEqual([['failed', RETRIES]]);
    expect(failingJobs.filter((j) => j.queue === 'tenantwatch-poll-dead').length).toBe(1);

    // The malformed tenant: polled in every round, but each blob fetched once — its blobs wait for their own
    // retry time (doubling) instead of being fetched again each round; nothing of it is stored.
    const blobRows = await s.db.selectFrom('ingest_blobs').select(['content_id', 'status', 'attempts', 'next_attempt_at', 'last_error']).where('tenant_id', '=', malformed).execute();
    expect(blobRows.length).toBe(3);
    const now = new Date().toISOString();
    for (const b of blobRows) {
      expect(b.status).toBe('failed');
      expect(Number(b.attempts)).toBe(1);
      expect(b.next_attempt_at! > now).toBe(true);
      expect(b.last_error).toMatch(/TW_INGEST_BLOB_MALFORMED|malformed/i);
    }
    const blobFetches = await sim.control.requests({ tenant: malformed, path: BLOBS });
    expect(blobFetches.length).toBe(3);
    expect((await sim.control.requests({ tenant: malformed, path: LISTING })).length).toBeGreaterThan(2);
    const ids = await storedIds(s.db);
    expect([...ids.keys()].some((k) => k.startsWith(failing) || k.startsWith(malformed))).toBe(false);
    expect([...ids.values()].every((n) => n === 1)).toBe(true);

    // Visible where an operator looks: the cluster status and `tenants health`.
    const status = await clusterStatus(s.db);
    expect(status.jobs.dead).toBe(1);
    const byTenant = new Map(status.tenants.map((t) => [t.tenantId, t]));
    expect(byTenant.get(failing)?.lastError).toMatch(/500|TW_/);
    expect(byTenant.get(malformed)?.failedBlobs).toBe(3);
    for (const t of good) expect(byTenant.get(t)?.failedBlobs).toBe(0);
    const cfg = path.join(dir, 'tw.yaml');
    writeSimConfig(cfg, sim, s.url, { microsoft: { contentTypes: TYPES } });
    const health = await new Promise<string>((resolve) => {
      const c = spawn(process.execPath, [BIN, '--config', cfg, 'tenants', 'health', good[0]!], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NODE_OPTIONS: '' } });
      let o = '';
      c.stdout!.on('data', (d: Buffer) => (o += d.toString()));
      const guard = setTimeout(() => c.kill('SIGKILL'), 60_000);
      c.once('exit', () => (clearTimeout(guard), resolve(o)));
    });
    expect(health).toMatch(/cluster \(pg-boss\): 1 process\(es\) alive, .* 1 dead-lettered/);
  });

  it('takes the job lease and retries from scale.* unless options say otherwise, on a queue created earlier too', { timeout: 60_000 }, async () => {
    store = await freshStore('postgres');
    const s = store;
    await addTenants(s.db, tenants.slice(0, 2));
    const scaled = simConfig(sim, s.url, { microsoft: { contentTypes: TYPES }, scale: { jobLeaseSeconds: 120, retryLimit: 3, retryDelaySeconds: 7 } });
    // A web-only process (sends jobs, runs none): nothing consumes what it queues.
    scheduler = await startBossScheduler({ url: s.url, db: s.db, config: scaled, logger: silentLogger(), role: 'web' });
    await scheduler.enqueue([{ tenantId: tenants[0]!, contentType: 'Audit.Exchange' }]);
    let rows = (await bossJobs(s.url)).filter((j) => j.queue === 'tenantwatch-poll');
    expect(rows.map((j) => [j.key, j.expire_seconds, j.retry_limit, j.retry_delay])).toEqual([[`${tenants[0]!}|Audit.Exchange`, 120, 3, 7]]);
    await scheduler.stop();

    // Another start with other settings on the same (existing) queue: its jobs and the queue follow them;
    // explicit options win over the configuration.
    const other = simConfig(sim, s.url, { microsoft: { contentTypes: TYPES }, scale: { jobLeaseSeconds: 300, retryLimit: 1, retryDelaySeconds: 60 } });
    scheduler = await startBossScheduler({ url: s.url, db: s.db, config: other, logger: silentLogger(), role: 'web', retryLimit: 4 });
    await scheduler.enqueue([{ tenantId: tenants[1]!, contentType: 'Audit.Exchange' }]);
    rows = (await bossJobs(s.url)).filter((j) => j.queue === 'tenantwatch-poll' && j.key === `${tenants[1]!}|Audit.Exchange`);
    expect(rows.map((j) => [j.expire_seconds, j.retry_limit, j.retry_delay])).toEqual([[300, 4, 60]]);
    const c = new pg.Client({ connectionString: postgresUrl() });
    await c.connect();
    const q = await c.query<{ expire_seconds: number; retry_limit: number; retry_delay: number; policy: string; dead_letter: string }>(
      `SELECT expire_seconds, retry_limit, retry_delay, policy, dead_letter FROM ${bossTarget(s.url).schema}.queue WHERE name = 'tenantwatch-poll'`,
    );
    await c.end();
    expect(q.rows[0]).toEqual({ expire_seconds: 300, retry_limit: 4, retry_delay: 60, policy: 'short', dead_letter: 'tenantwatch-poll-dead' });
    // The defaults when the file says nothing.
    const plain = simConfig(sim, s.url, { microsoft: { contentTypes: TYPES } });
    expect(plain.scale).toEqual({ jobLeaseSeconds: 900, retryLimit: 5, retryDelaySeconds: 30 });
  });
});
