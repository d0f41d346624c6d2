// The schedulers in one process against the real simulator: pg-boss on PostgreSQL (retries with backoff,
// dead-letter queue, a dropped connection pool), the in-process scheduler on SQLite (same jobs, fairness).
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.ts';
import { buildIngest, type IngestParts } from '../src/main.ts';
import { createPollJobs, type PollJob, type PollJobs } from '../src/scale/jobs.ts';
import { clusterStatus } from '../src/scale/registry.ts';
import { bossTarget, FETCH_INDEX, fetchAhead, startBossScheduler, startLocalScheduler, type Scheduler } from '../src/scale/scheduler.ts';
import { startSim, type SimContentType, type StartedSim } from './helpers/sim.ts';
import { freshStore, postgresUrl, type TestStore } from './helpers/stores.ts';
import { addTenants, ingestWorld, records, simConfig, storedIds, tenantIds } from './helpers/ingest-world.ts';

const TYPES: SimContentType[] = ['Audit.Exchange'];

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function dropBossSchema(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: postgresUrl() });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${bossTarget(url).schema} CASCADE`);
  await c.end();
}

describe('pg-boss scheduling on PostgreSQL', () => {
  let sim: StartedSim;
  const tenants = tenantIds(4);
  let store: TestStore | undefined;
  let parts: IngestParts | undefined;
  let scheduler: Scheduler | undefined;
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 4, types: TYPES }) });
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
  });

  async function setup(extra: Record<string, unknown> = {}): Promise<{ parts: IngestParts; store: TestStore }> {
    store = await freshStore('postgres');
    await addTenants(store.db, tenants);
    const config = simConfig(sim, store.url, { microsoft: { contentTypes: TYPES, maxRetries: 0 }, ingest: { concurrency: 2, perTenantConcurrency: 1 }, ...extra });
    parts = await buildIngest(config, silentLogger());
    return { parts, store };
  }

  it('retries a poison tenant with backoff into the dead-letter queue while the other tenants are polled', { timeout: 120_000 }, async () => {
    const { parts: p, store: s } = await setup();
    const poison = tenants[0]!;
    await sim.control.faults({ match: { tenantId: poison, path: '/activity/feed/subscriptions/content' }, status: 500 });
    const good = tenants.slice(1);
    const injected: string[] = [];
    for (const t of good) {
      const recs = records(t, 'Audit.Exchange', 3);
      await sim.control.injectRecords(t, 'Audit.Exchange', recs);
      for (const r of recs) injected.push(`${t}|${r.Id as string}`);
    }
    await new Promise((r) => setTimeout(r, 1100));
    const config = simConfig(sim, s.url, { microsoft: { contentTypes: TYPES, maxRetries: 0 }, ingest: { concurrency: 2, perTenantConcurrency: 1 } });
    const jobs = createPollJobs({ db: s.db, api: p.api, config, pipeline: p.pipeline, logger: silentLogger() });
    scheduler = await startBossScheduler({ url: s.url, db: s.db, config, logger: silentLogger(), jobs, role: 'worker', plan: false, retryLimit: 2, retryDelaySeconds: 1 });
    await scheduler.planNow();
    await waitFor('the good tenants ingested', async () => {
      const ids = await storedIds(s.db);
      return injected.every((k) => ids.get(k) === 1);
    });
    await waitFor('the poison job dead-lettered', async () => (await clusterStatus(s.db)).jobs.dead >= 1, 90_000);
    const status = await clusterStatus(s.db);
    expect(status.scheduler).toBe('pg-boss');
    expect(status.jobs.dead).toBe(1);
    expect(status.workersAlive).toBe(1);
    expect(status.tenants.find((t) => t.tenantId === poison)?.lastError).toMatch(/500|TW_/);
    // The poison job ran 1 + 2 times (its retries), each listing attempt one request.
    const calls = await sim.control.requests({ tenant: poison, path: '/activity/feed/subscriptions/content' });
    expect(calls.length).toBe(3);
  });

  it('fetches jobs ahead of its free slots, gives back the ones that could not start in time, and the rest on stop', { timeout: 60_000 }, async () => {
    const { store: s } = await setup();
    const config = simConfig(sim, s.url, { microsoft: { contentTypes: TYPES }, ingest: { concurrency: 1 } });
    const started: PollJob[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const jobs: PollJobs = {
      owner: 'prefetch-test',
      poller: () => {
        throw new Error('not used');
      },
      run: async (job) => {
        started.push(job);
        await gate;
        return undefined;
      },
      stop: async () => {},
    };
    scheduler = await startBossScheduler({ url: s.url, db: s.db, config, logger: silentLogger(), jobs, role: 'worker', plan: false, slots: 1 });
    await scheduler.enqueue(tenants.map((tenantId) => ({ tenantId, contentType: 'Audit.Exchange' })));
    const { schema } = bossTarget(s.url);
    const states = async (): Promise<Record<string, number>> => {
      const { rows } = await sql<{ state: string; n: number }>`select state, count(*)::int as n from ${sql.table(`${schema}.job`)} where name = 'tenantwatch-poll' group by state`.execute(s.db);
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    };
    await waitFor('the first job to start', async () => started.length === 1);
    // One slot and no job duration known yet: one job running, one leased ahead, the rest still queued.
    expect(await states()).toEqual({ active: 2, created: tenants.length - 2 });
    // The running job outlasts the guess: the leased one goes back to the queue as if never fetched (no retry
    // counted) for any worker with a free slot, and nothing more is leased ahead while the slot stays busy.
    await waitFor('the leased job given back', async () => (await states()).active === 1);
    const { rows: back } = await sql<{ started_on: Date | null; retry_count: number }>`select started_on, retry_count from ${sql.table(`${schema}.job`)} where name = 'tenantwatch-poll' and state = 'created'`.execute(s.db);
    expect(back).toHaveLength(tenants.length - 1);
    expect(back.every((r) => r.started_on === null && r.retry_count === 0)).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await states()).toEqual({ active: 1, created: tenants.length - 1 });
    const stopping = scheduler.stop();
    release();
    await stopping;
    scheduler = undefined;
    expect(started).toHaveLength(1);
    // The running job completed; the one never started is queued again for any worker.
    expect(await states()).toEqual({ completed: 1, created: tenants.length - 1 });
  });

  it('leases short jobs ahead in batches and long ones (a backlog) only as slots free up', () => {
    expect(fetchAhead(16, 40)).toBe(48); // empty polls: three per slot at most
    expect(fetchAhead(16, 1000)).toBe(32); // what 16 slots start in 2 s
    expect(fetchAhead(16, 4000)).toBe(8);
    expect(fetchAhead(16, 60_000)).toBe(0);
    expect(fetchAhead(1, 0)).toBe(3);
  });

  it("reads pg-boss's oldest queued jobs from an index instead of sorting the whole queue at each fetch", { timeout: 60_000 }, async () => {
    const { store: s } = await setup();
    const config = simConfig(sim, s.url, { microsoft: { contentTypes: TYPES }, ingest: { concurrency: 1 } });
    const jobs: PollJobs = {
      owner: 'fetch-index-test',
      poller: () => {
        throw new Error('not used');
      },
      run: async () => undefined,
      stop: async () => {},
    };
    scheduler = await startBossScheduler({ url: s.url, db: s.db, config, logger: silentLogger(), jobs, role: 'worker', plan: false, slots: 1 });
    await scheduler.stop(); // nothing consumes the queue while it is filled and examined
    scheduler = undefined;
    const { schema } = bossTarget(s.url);
    const job = sql.table(`${schema}.job`);
    await sql`insert into ${job} (name, data, singleton_key, policy) select 'tenantwatch-poll', '{}'::jsonb, 'key' || i, 'short' from generate_series(1, 20000) i`.execute(s.db);
    await sql`analyze ${job}`.execute(s.db);
    // pg-boss 10's fetch without priority: the oldest queued jobs that may start, locked, skipping locked rows.
    const { rows } = await sql<{ 'QUERY PLAN': string }>`explain select id from ${job} where name = 'tenantwatch-poll' and state < 'active' and start_after < now() order by created_on, id limit 16 for update skip locked`.execute(s.db);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain(FETCH_INDEX);
    expect(plan).not.toMatch(/\bSort\b/);
  });

  it('recovers when every connection of the pool is dropped (a PostgreSQL restart as seen by the pool)', { timeout: 120_000 }, async () => {
    const { parts: p, store: s } = await setup();
    const config = simConfig(sim, s.url, { microsoft: { contentTypes: TYPES, maxRetries: 0 }, ingest: { concurrency: 2, perTenantConcurrency: 1 } });
    const jobs = createPollJobs({ db: s.db, api: p.api, config, pipeline: p.pipeline, logger: silentLogger() });
    scheduler = await startBossScheduler({ url: s.url, db: s.db, config, logger: silentLogger(), jobs, role: 'worker', plan: false });
    await scheduler.planNow();
    await scheduler.idle();
    // Every backend this process holds: the pg-boss pool (by its application name) and the store's pool.
    const held = await Promise.all(Array.from({ length: 8 }, () => sql<{ pid: number }>`SELECT pg_backend_pid() AS pid, pg_sleep(0.3)`.execute(p.store.db)));
    const storePids = [...new Set(held.map((r) => Number(r.rows[0]!.pid)))];
    const admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
    const boss = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [`tenantwatch ${bossTarget(s.url).schema}`.slice(0, 63)]);
    const pids = [...storePids, ...boss.rows.map((r) => Number(r.pid))];
    expect(boss.rows.length).toBeGreaterThan(0);
    await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
    await admin.end();

    const t = tenants[2]!;
    const recs = records(t, 'Audit.Exchange', 5);
    await sim.control.injectRecords(t, 'Audit.Exchange', recs);
    await new Promise((r) => setTimeout(r, 1100));
    // The first queries after the drop may fail (the scheduler logs and carries on); the work gets done.
    await waitFor('the records after the drop', async () => {
      await scheduler!.enqueue([{ tenantId: t, contentType: 'Audit.Exchange' }]).catch(() => 0);
      const ids = await storedIds(s.db).catch(() => new Map<string, number>());
      return recs.every((r) => ids.get(`${t}|${r.Id as string}`) === 1);
    }, 60_000);
    const status = await clusterStatus(s.db);
    expect(status.workersAlive).toBe(1);
  });
});

describe('the in-process scheduler on SQLite', () => {
  let sim: StartedSim;
  let store: TestStore;
  let parts: IngestParts;
  const tenants = tenantIds(5);
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 5, types: TYPES }) });
    store = await freshStore('sqlite');
    await addTenants(store.db, tenants);
  });
  afterAll(async () => {
    await parts?.http.close();
    await parts?.store.close();
    await store.dispose();
    await sim.stop();
  });

  it('runs the same poll jobs, and a tenant with a deep backlog does not starve the others', { timeout: 120_000 }, async () => {
    const [deep, ...others] = tenants as [string, ...string[]];
    for (let b = 0; b < 30; b++) await sim.control.injectRecords(deep, 'Audit.Exchange', records(deep, 'Audit.Exchange', 20));
    const otherIds: string[] = [];
    for (const t of others) {
      const recs = records(t, 'Audit.Exchange', 4);
      await sim.control.injectRecords(t, 'Audit.Exchange', recs);
      for (const r of recs) otherIds.push(`${t}|${r.Id as string}`);
    }
    // The deep tenant's blobs are slow to download.
    await sim.control.faults({ match: { tenantId: deep, path: '/activity/feed/audit/' }, delayMs: 150 });
    await new Promise((r) => setTimeout(r, 1100));
    const config = simConfig(sim, store.url, { microsoft: { contentTypes: TYPES }, ingest: { concurrency: 2, perTenantConcurrency: 1 } });
    parts = await buildIngest(config, silentLogger());
    const jobs = createPollJobs({ db: parts.store.db, api: parts.api, config, pipeline: parts.pipeline, logger: silentLogger() });
    const scheduler = startLocalScheduler({ db: parts.store.db, config, logger: silentLogger(), jobs, role: 'all', plan: false });
    try {
      // Deep first in the queue; the two slots still serve the others while it works through its backlog.
      expect(await scheduler.enqueue([{ tenantId: deep, contentType: 'Audit.Exchange' }, ...others.map((t) => ({ tenantId: t, contentType: 'Audit.Exchange' }))])).toBe(5);
      // A key already queued is not queued twice.
      expect(await scheduler.enqueue(others.map((t) => ({ tenantId: t, contentType: 'Audit.Exchange' })))).toBeLessThan(others.length);
      await waitFor('the other tenants', async () => {
        const ids = await storedIds(store.db);
        return otherIds.every((k) => ids.get(k) === 1);
      });
      const deepDone = await store.db.selectFrom('ingest_blobs').select('content_id').where('tenant_id', '=', deep).where('status', '=', 'done').execute();
      expect(deepDone.length).toBeLessThan(30); // the backlog is still being worked through
      await scheduler.idle();
      const ids = await storedIds(store.db);
      expect([...ids.keys()].filter((k) => k.startsWith(deep)).length).toBe(600);
      const status = await clusterStatus(store.db);
      expect(status.scheduler).toBe('in-process');
      expect(status.tenants.map((t) => t.tenantId).sort()).toEqual([...tenants].sort());
    } finally {
      await scheduler.stop();
    }
  });
});
